// What the skills page makes of what the user gives it: the type an upload is sent as, and the name to
// prefill from a file's name or a pasted SKILL.md (the server checks the name against the SKILL.md).

/** What a file upload is sent as: a zip of the folder, or its SKILL.md. */
export function contentTypeOf(file: File): 'application/zip' | 'text/markdown' {
  return file.name.toLowerCase().endsWith('.zip') ? 'application/zip' : 'text/markdown';
}

/** A skill name from a file's name (`zeta-skill.zip` → `zeta-skill`), to prefill the name field. */
export function nameFromFile(file: File): string {
  return file.name.replace(/\.(zip|md)$/i, '').toLowerCase();
}

/** The name a SKILL.md's frontmatter gives, to prefill the name field when one is pasted. */
export function frontmatterName(markdown: string): string | null {
  const frontmatter = /^---\r?\n([\s\S]*?)\r?\n---/.exec(markdown);
  const line = frontmatter?.[1]?.split(/\r?\n/).find((l) => l.startsWith('name:'));
  return line === undefined
    ? null
    : line
        .slice('name:'.length)
        .trim()
        .replace(/^["']|["']$/g, '') || null;
}
