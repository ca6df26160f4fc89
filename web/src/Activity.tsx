// What the agent did during a turn, shown in its reply's bubble: while the turn runs, one row per tool call
// (name, what it does, a spinner or ✓/✗, how long it took) in an open disclosure; once the reply is there,
// the same rows folded into "Worked for N s", closed until the reader opens it (also after a reload).

import type { ToolActivity, TurnActivity } from './protocol';
import { formatDuration, workedLabel } from './format';

/** "Working… · 1 of 2 tools done" while the turn runs. */
function workingLabel(activity: TurnActivity): string {
  const done = activity.tools.filter((t) => t.status !== 'running').length;
  return `Working… · ${done} of ${activity.toolCount} ${activity.toolCount === 1 ? 'tool' : 'tools'} done`;
}

const STATUS_WORDS: Record<ToolActivity['status'], string> = { running: 'running', ok: 'done', error: 'failed' };

function ToolRow({ tool, live }: { tool: ToolActivity; live: boolean }) {
  // A call still marked running in a reply that is no longer live was cut off (error, Stop, dropped socket).
  const status = tool.status === 'running' && !live ? 'stopped' : STATUS_WORDS[tool.status];
  return (
    <li className={`tool-row tool-${tool.status}`} data-testid="tool-row" data-status={tool.status}>
      <span className="tool-icon" role="img" aria-label={status}>
        {tool.status === 'running' ? live ? <span className="spinner" aria-hidden="true" /> : '–' : tool.status === 'ok' ? '✓' : '✗'}
      </span>
      <span className="tool-name">{tool.name}</span>
      <span className="tool-summary" title={tool.summary}>
        {tool.summary}
      </span>
      {tool.durationMs !== undefined && <span className="tool-duration">{formatDuration(tool.durationMs)}</span>}
    </li>
  );
}

/**
 * The activity of one reply. `live`: the turn is still running (rows shown open, the label counts calls);
 * otherwise the rows fold into "Worked for N s", collapsed by default.
 */
export function ActivityPanel({ activity, live }: { activity: TurnActivity; live: boolean }) {
  const hidden = activity.toolCount - activity.tools.length;
  return (
    <details className="activity" data-testid="activity" data-live={live} open={live ? true : undefined}>
      <summary className="activity-summary" data-testid="activity-summary">
        {live ? workingLabel(activity) : workedLabel(activity)}
      </summary>
      <ul className="tool-rows">
        {activity.tools.map((tool) => (
          <ToolRow key={tool.toolId} tool={tool} live={live} />
        ))}
      </ul>
      {hidden > 0 && <p className="hint">…and {hidden} more</p>}
    </details>
  );
}
