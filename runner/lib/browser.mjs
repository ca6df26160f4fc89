// OpenClaw's browser tool around a turn (docs/runner-protocol.md, "Browser"): a run whose user has the
// browser off gets it denied; after a run that used it, the runner stops Chromium and deletes its
// profile (cookies, history and tabs of that user must not meet the next turn's), moves what it
// downloaded into the turn's workspace, and copies its screenshots there as the turn's media.

import fs from 'node:fs/promises';
import path from 'node:path';

/** @import { LogErr, OpenClawConfig, SessionEntry } from '../types.d.ts' */

/** The name of OpenClaw's browser tool (and of its plugin). */
export const BROWSER_TOOL = 'browser';

/**
 * Where OpenClaw's browser saves downloads: `<preferred OpenClaw tmp dir>/downloads`, which is
 * `/tmp/openclaw/downloads` whatever TMPDIR says (2026.9.6: `DEFAULT_DOWNLOAD_DIR`, `dist/paths-*.mjs`,
 * `resolvePreferredOpenClawTmpDir`); no config key moves it.
 */
export const OPENCLAW_DOWNLOAD_DIR = '/tmp/openclaw/downloads';

/** Workspace folder the browser's downloads are moved into. */
export const WORKSPACE_DOWNLOADS = 'downloads';

/**
 * Workspace folder the turn's screenshots are written to, relative: inside the workspace's
 * attachment area (`.attachments/`), which the host reads reply media from and never stores.
 */
export const SCREENSHOT_DIR = path.join('.attachments', 'browser');

/**
 * The config of a run whose user turned the browser off: `browser` added to its denied tools (the
 * same list the tool policies use). Unchanged when the run may browse.
 * @template {OpenClawConfig} C
 * @param {C} config
 * @param {boolean} allowed
 * @returns {C}
 */
export function withBrowserAccess(config, allowed) {
  if (allowed) return config;
  const tools = config.tools ?? {};
  return { ...config, tools: { ...tools, deny: [...(tools.deny ?? []), BROWSER_TOOL] } };
}

/**
 * The image blocks of the browser's tool results among `entries` (a run's new transcript entries):
 * `{ toolCallId, data (base64), mimeType }` per screenshot, in order.
 * @param {SessionEntry[]} entries
 */
export function screenshotsIn(entries) {
  /** @type {Array<{ toolCallId: string, data: string, mimeType: string }>} */
  const shots = [];
  for (const entry of entries) {
    const message = /** @type {{ role?: string, toolName?: string, toolCallId?: string, content?: unknown } | undefined} */ (entry.type === 'message' ? entry.message : undefined);
    if (message?.role !== 'toolResult' || message.toolName !== BROWSER_TOOL || !Array.isArray(message.content)) continue;
    for (const block of message.content) {
      if (block?.type === 'image' && typeof block.data === 'string' && typeof block.mimeType === 'string') {
        shots.push({ toolCallId: String(message.toolCallId ?? shots.length), data: block.data, mimeType: block.mimeType });
      }
    }
  }
  return shots;
}

/** File name extension of a screenshot's type (OpenClaw takes PNG or JPEG). */
/** @param {string} mimeType */
const extensionOf = (mimeType) => (mimeType === 'image/jpeg' ? 'jpg' : 'png');

/**
 * Writes a run's screenshots into its workspace ([SCREENSHOT_DIR]) and returns their
 * workspace-relative paths, the `media` of the turn's result.
 * @param {string} workspaceDir
 * @param {SessionEntry[]} entries the run's new transcript entries
 */
export async function saveScreenshots(workspaceDir, entries) {
  const shots = screenshotsIn(entries);
  if (shots.length === 0) return [];
  await fs.mkdir(path.join(workspaceDir, SCREENSHOT_DIR), { recursive: true });
  return Promise.all(
    shots.map(async ({ toolCallId, data, mimeType }, i) => {
      const relative = path.join(SCREENSHOT_DIR, `screenshot-${i + 1}-${toolCallId.replace(/[^A-Za-z0-9_-]/g, '_')}.${extensionOf(mimeType)}`);
      await fs.writeFile(path.join(workspaceDir, relative), Buffer.from(data, 'base64'));
      return relative;
    }),
  );
}

/**
 * Moves every file in `downloadDir` into the workspace's [WORKSPACE_DOWNLOADS] folder (copied and
 * removed: /tmp and the workspace may be different file systems), keeping names, numbering one that
 * exists. Returns the workspace-relative paths.
 * @param {string} downloadDir
 * @param {string} workspaceDir
 */
export async function moveDownloads(downloadDir, workspaceDir) {
  let names;
  try {
    names = (await fs.readdir(downloadDir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return [];
  }
  if (names.length === 0) return [];
  const target = path.join(workspaceDir, WORKSPACE_DOWNLOADS);
  await fs.mkdir(target, { recursive: true });
  /** @type {string[]} */
  const moved = [];
  for (const name of names) {
    let final = name;
    for (let n = 2; await fs.access(path.join(target, final)).then(() => true, () => false); n++) final = `${n}-${name}`;
    await fs.copyFile(path.join(downloadDir, name), path.join(target, final));
    await fs.rm(path.join(downloadDir, name), { force: true });
    moved.push(path.join(WORKSPACE_DOWNLOADS, final));
  }
  return moved;
}

/**
 * The process ids of Chromiums using a profile under `<stateDir>/browser/` (every Chromium this
 * runner's OpenClaw starts: OpenClaw puts each profile's `--user-data-dir` there), from /proc.
 * @param {string} stateDir
 */
export async function chromiumPids(stateDir) {
  const marker = `--user-data-dir=${path.join(stateDir, 'browser')}${path.sep}`;
  /** @type {number[]} */
  const pids = [];
  let entries;
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.startsWith(marker))) pids.push(Number(entry));
  }
  return pids;
}

/**
 * Where OpenClaw keeps its own copies of the browser's screenshots, under its state dir: the original
 * (`media/browser/`) and a sanitised copy for sharing (`media/outbound/`). The turn's media are the
 * runner's copies in the workspace; these would outlive the turn where the next user's tools can read.
 */
const SCREENSHOT_COPIES = [path.join('media', 'browser'), path.join('media', 'outbound')];

/**
 * Ends the browser after a run that used it: OpenClaw's `stopBrowserControlService` (which closes
 * Chromium), then SIGKILL for any Chromium of ours still alive, then every profile's `user-data`
 * folder deleted, OpenClaw's copies of the screenshots, and what is left in the download folder (a
 * failed run's downloads, which no other user's workspace may get). Failures are logged, never
 * thrown: the turn's answer does not depend on them.
 * @param {{ stopBrowserControlService: () => Promise<void> }} oc
 * @param {string} stateDir
 * @param {LogErr} logErr
 */
export async function stopBrowser(oc, stateDir, logErr) {
  try {
    await oc.stopBrowserControlService();
  } catch (err) {
    logErr('stopping the browser failed:', err);
  }
  for (const pid of await chromiumPids(stateDir)) {
    try {
      process.kill(pid, 'SIGKILL');
      logErr(`killed Chromium ${pid}, still running after the browser was stopped`);
    } catch {
      /* already gone */
    }
  }
  for (const dir of [OPENCLAW_DOWNLOAD_DIR, ...SCREENSHOT_COPIES.map((copies) => path.join(stateDir, copies))]) {
    for (const left of await fs.readdir(dir).catch(() => [])) {
      await fs.rm(path.join(dir, left), { recursive: true, force: true }).catch((err) => logErr(`emptying ${dir} failed:`, err));
    }
  }
  const root = path.join(stateDir, 'browser');
  const profiles = await fs.readdir(root).catch(() => []);
  for (const profile of profiles) {
    await fs.rm(path.join(root, profile, 'user-data'), { recursive: true, force: true }).catch((err) => logErr(`deleting the ${profile} browser profile failed:`, err));
  }
}
