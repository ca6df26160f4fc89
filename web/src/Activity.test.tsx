// The activity panel of a reply: live rows while a turn runs, "Worked for N s" folded once it is answered.
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ActivityPanel } from './Activity';
import { workedLabel } from './format';
import type { TurnActivity } from './protocol';

const activity: TurnActivity = {
  workedMs: 4200,
  toolCount: 3,
  tools: [
    { toolId: 'a', name: 'exec', summary: 'ls -la notes', status: 'ok', durationMs: 212 },
    { toolId: 'b', name: 'web_fetch', summary: 'https://example.org/<b>x</b>', status: 'error', durationMs: 1500 },
    { toolId: 'c', name: 'read', summary: 'notes/a.md', status: 'running' },
  ],
};

const render = (a: TurnActivity, live: boolean) => renderToStaticMarkup(<ActivityPanel activity={a} live={live} />);

describe('ActivityPanel', () => {
  it('while the turn runs: open, one row per call with its status, spinner and duration', () => {
    const html = render(activity, true);
    expect(html).toMatch(/^<details class="activity" data-testid="activity" data-live="true" open="">/);
    expect(html).toContain('Working… · 2 of 3 tools done');
    expect(html.match(/data-testid="tool-row"/g)).toHaveLength(3);
    expect(html).toContain('<span class="tool-name">exec</span>');
    expect(html).toContain('212 ms');
    expect(html).toContain('1.5 s');
    expect(html).toContain('aria-label="running"><span class="spinner"');
    expect(html).toContain('aria-label="done">✓');
    expect(html).toContain('aria-label="failed">✗');
    // Summaries are text, never markup.
    expect(html).toContain('https://example.org/&lt;b&gt;x&lt;/b&gt;');
  });

  it('once the reply is there: folded into "Worked for N s", closed, a cut-off call shown as stopped', () => {
    const html = render(activity, false);
    expect(html).toMatch(/^<details class="activity" data-testid="activity" data-live="false">/);
    expect(html).toContain('Worked for 4.2 s · 3 tools');
    expect(html).toContain('aria-label="stopped">–');
    expect(html).not.toContain('spinner');
  });

  it('says how many calls were not kept', () => {
    expect(render({ ...activity, toolCount: 53 }, false)).toContain('…and 50 more');
    expect(workedLabel({ workedMs: 800, toolCount: 1, tools: [] })).toBe('Worked for 800 ms · 1 tool');
  });
});
