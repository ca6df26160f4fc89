import { describe, expect, it } from 'vitest';
import { frontmatterName } from './skills';

describe('frontmatterName', () => {
  it('reads the name of a pasted SKILL.md, quoted or not', () => {
    expect(frontmatterName('---\nname: zeta-skill\ndescription: d\n---\n# Zeta')).toBe('zeta-skill');
    expect(frontmatterName('---\r\ndescription: d\r\nname: "quoted"\r\n---\r\n')).toBe('quoted');
  });
  it('gives nothing without a frontmatter name', () => {
    expect(frontmatterName('# no frontmatter\nname: x')).toBeNull();
    expect(frontmatterName('---\ndescription: d\n---\n')).toBeNull();
  });
});
