// Debian's Chromium driven by playwright-core, as the browser tests launch it: headless, no sandbox, no
// background traffic, and a fresh profile that is removed afterwards (never a browser download).

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Whether the browser is there; `null` when it is, else the message saying how to get it. */
export function missingChromium() {
  return existsSync(executablePath) ? null : `no Chromium at ${executablePath}: install it (apt-get install chromium) or set CHROMIUM_PATH`;
}

/**
 * Runs `use(context)` in a fresh browser with a page of `viewport` (and `extraArgs` on its command line);
 * closes the browser and removes its profile however `use` ends.
 */
export async function withChromium(viewport, use, extraArgs = []) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'openclaw-e2e-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      viewport,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        ...extraArgs,
      ],
    });
    return await use(context);
  } finally {
    await context?.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
}
