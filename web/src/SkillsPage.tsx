// The skills page (`#skills`): the user's skills (folders with a SKILL.md in their workspace, which the agent
// lists in its prompt) with their descriptions; add one by pasting a SKILL.md or uploading a .md or a .zip of
// the folder, switch one off without deleting it, delete one. The server checks every upload and its refusal
// is shown as it is (docs/protocol.md, "Skills").

import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { Api } from './api';
import type { Skill } from './protocol';
import { contentTypeOf, frontmatterName, nameFromFile } from './skills';

type Loaded = { kind: 'loading' } | { kind: 'failed'; message: string } | { kind: 'ready'; skills: Skill[] };

export function SkillsPage({ api }: { api: Api }) {
  const [loaded, setLoaded] = useState<Loaded>({ kind: 'loading' });
  const headingRef = useRef<HTMLHeadingElement>(null);
  const fetchSkills = useCallback(
    () =>
      api
        .skills()
        .then((result) => setLoaded(result.ok ? { kind: 'ready', skills: result.value } : { kind: 'failed', message: result.message })),
    [api],
  );
  useEffect(() => void fetchSkills(), [fetchSkills]);
  useEffect(() => headingRef.current?.focus(), []);

  const replace = (skill: Skill) =>
    setLoaded((current) =>
      current.kind !== 'ready'
        ? current
        : {
            kind: 'ready',
            skills: [...current.skills.filter((s) => s.name !== skill.name), skill].sort((a, b) => a.name.localeCompare(b.name)),
          },
    );
  const remove = (name: string) =>
    setLoaded((current) => (current.kind !== 'ready' ? current : { kind: 'ready', skills: current.skills.filter((s) => s.name !== name) }));

  return (
    <div className="settings" data-testid="skills-page">
      <div className="settings-inner">
        <h2 ref={headingRef} tabIndex={-1}>
          Skills
        </h2>
        <p className="skills-intro">
          Skills teach the agent how to do things: each is a folder with a SKILL.md. The agent sees their names and descriptions in every
          conversation; run one with <code>/skill &lt;name&gt; [request]</code>, list them with <code>/skills</code>.
        </p>
        {loaded.kind === 'loading' && <p className="hint">Loading…</p>}
        {loaded.kind === 'failed' && (
          <p className="hint hint-error" role="alert">
            Could not load the skills: {loaded.message}
          </p>
        )}
        {loaded.kind === 'ready' && (
          <ul className="skill-list" data-testid="skill-list">
            {loaded.skills.length === 0 && <li className="hint">No skills yet.</li>}
            {loaded.skills.map((skill) => (
              <SkillRow key={skill.name} api={api} skill={skill} onChanged={replace} onDeleted={remove} />
            ))}
          </ul>
        )}
        <AddSkill api={api} onAdded={replace} />
      </div>
    </div>
  );
}

function SkillRow({
  api,
  skill,
  onChanged,
  onDeleted,
}: {
  api: Api;
  skill: Skill;
  onChanged: (skill: Skill) => void;
  onDeleted: (name: string) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = async () => {
    setBusy(true);
    const result = await api.setSkillEnabled(skill.name, !skill.enabled);
    setBusy(false);
    if (result.ok) onChanged(result.value);
    else setError(result.message);
  };
  const remove = async () => {
    setBusy(true);
    const result = await api.deleteSkill(skill.name);
    setBusy(false);
    if (result.ok) onDeleted(skill.name);
    else setError(result.message);
  };
  return (
    <li className="skill" data-testid={`skill-${skill.name}`} data-enabled={skill.enabled}>
      <div className="skill-text">
        <strong>{skill.name}</strong>
        <span className="skill-description">{skill.description ?? '(no readable SKILL.md)'}</span>
      </div>
      <label className="skill-switch">
        <input type="checkbox" checked={skill.enabled} disabled={busy} onChange={() => void toggle()} data-testid="skill-enabled" />
        Enabled
      </label>
      {confirming ? (
        <span>
          <button type="button" className="danger" disabled={busy} onClick={() => void remove()} data-testid="skill-delete-confirm">
            Delete {skill.name}
          </button>{' '}
          <button type="button" className="link-button" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </span>
      ) : (
        <button type="button" className="link-button" onClick={() => setConfirming(true)} data-testid="skill-delete">
          Delete
        </button>
      )}
      {error !== null && (
        <p className="hint hint-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

function AddSkill({ api, onAdded }: { api: Api; onAdded: (skill: Skill) => void }) {
  const [name, setName] = useState('');
  const [markdown, setMarkdown] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const nameId = useId();
  const textId = useId();
  const fileId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body = file ?? (markdown.trim() === '' ? null : new Blob([markdown], { type: 'text/markdown' }));
    if (name.trim() === '' || body === null) {
      setOutcome({ ok: false, text: 'Give the skill a name, and paste its SKILL.md or choose a file.' });
      return;
    }
    setBusy(true);
    const result = await api.putSkill(name.trim(), body, file === null ? 'text/markdown' : contentTypeOf(file));
    setBusy(false);
    if (!result.ok) {
      setOutcome({ ok: false, text: result.message });
      return;
    }
    onAdded(result.value);
    setOutcome({ ok: true, text: `Saved ${result.value.name}.` });
    setName('');
    setMarkdown('');
    setFile(null);
    if (fileInput.current !== null) fileInput.current.value = '';
  };

  return (
    <form className="settings-section" onSubmit={(event) => void submit(event)} data-testid="skill-add">
      <h3>Add a skill</h3>
      <div className="fields">
        <div className="field">
          <label htmlFor={nameId}>Name</label>
          <input id={nameId} value={name} onChange={(e) => setName(e.target.value)} placeholder="my-skill" data-testid="skill-name" />
        </div>
        <div className="field">
          <label htmlFor={textId}>SKILL.md</label>
          <textarea
            id={textId}
            rows={8}
            value={markdown}
            disabled={file !== null}
            onChange={(e) => {
              setMarkdown(e.target.value);
              const named = frontmatterName(e.target.value);
              if (named !== null && name === '') setName(named);
            }}
            placeholder={'---\nname: my-skill\ndescription: What it does and when to use it\n---\n# Steps'}
            data-testid="skill-markdown"
          />
        </div>
        <div className="field">
          <label htmlFor={fileId}>or a file (.md, or .zip of the skill&apos;s folder)</label>
          <input
            id={fileId}
            ref={fileInput}
            type="file"
            accept=".md,.zip,text/markdown,application/zip"
            onChange={(e) => {
              const chosen = e.target.files?.[0] ?? null;
              setFile(chosen);
              if (chosen !== null && name === '') setName(nameFromFile(chosen));
            }}
            data-testid="skill-file"
          />
        </div>
      </div>
      <div>
        <button type="submit" disabled={busy} data-testid="skill-save">
          {busy ? 'Saving…' : 'Save skill'}
        </button>
      </div>
      {outcome !== null && (
        <p className={outcome.ok ? 'hint' : 'hint hint-error'} role={outcome.ok ? 'status' : 'alert'} data-testid="skill-outcome">
          {outcome.text}
        </p>
      )}
    </form>
  );
}
