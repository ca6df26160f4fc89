import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Api } from './api';
import { ModelPicker } from './ModelPicker';

const never = () => new Promise<never>(() => {});
const api = new Proxy({}, { get: () => never }) as Api;

describe('ModelPicker', () => {
  const html = renderToStaticMarkup(<ModelPicker api={api} conversationId="c1" refresh={0} />);

  it('labels its model field and thinking select, so they are named for screen readers and clicks', () => {
    const forIds = [...html.matchAll(/<label for="([^"]+)">([^<]+)<\/label>/g)].map((m) => [m[1], m[2]]);
    expect(forIds.map(([, text]) => text)).toEqual(['Model', 'Thinking']);
    for (const [id] of forIds) expect(html).toContain(`id="${id}"`);
  });

  it('waits, disabled, until the conversation’s settings arrive', () => {
    expect(html).toMatch(/data-testid="conversation-model"[^>]*disabled/);
    expect(html).toMatch(/<select[^>]*disabled/);
    expect(html).toContain('<option value="high">high</option>');
  });
});
