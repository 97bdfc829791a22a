// Headless Chromium for the browser tests (runtimes, the demo page).
import { existsSync } from 'node:fs';

/**
 * Headless Chromium: $XCODEC_CHROMIUM, else the system's /usr/bin/chromium, else the build that the
 * npm package @sparticuz/chromium ships (x64 Linux only; unpacked to the temp folder on first use).
 * Its recommended launch flags (--single-process and friends) break cross-origin isolation, so only
 * CHROMIUM_ARGS below are passed.
 */
export async function chromiumPath() {
  if (process.env.XCODEC_CHROMIUM) return process.env.XCODEC_CHROMIUM;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `no Chromium: /usr/bin/chromium is missing and @sparticuz/chromium ships x64 Linux only (this is ${process.platform}-${process.arch}); install chromium or set XCODEC_CHROMIUM`,
    );
  }
  const { default: packaged } = await import('@sparticuz/chromium');
  return packaged.executablePath();
}
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
