// The Ollama Modelfile beside a GGUF export: FROM the file, the chat template in Ollama's Go-template syntax, its
// stop tokens and the chat's sampling defaults, so `ollama create NAME -f Modelfile` then `ollama run NAME` chats as
// the studio does. The template is derived from the run's Jinja template by rendering probe conversations: each
// role's text before and after its content, the default system turn (SmolLM2's and Qwen's templates add one), the
// generation prompt. It is written only when those pieces render a longer conversation exactly as the Jinja
// template does; a template they cannot express (one that rewrites earlier turns, as Qwen3's thinking does) is
// left to Ollama, which reads tokenizer.chat_template from the GGUF file.
import { CHAT_VARS, ChatTemplate, type Message } from '../data/template.js';
import { Tokenizer } from '../data/tokenizer.js';
import { textFile, type OutFile } from '../util/files.js';
import type { ExportSource } from './source.js';

export interface TemplatePieces {
  /** The system turn a template adds when the conversation has none ('' for most). */
  defaultSystem: string;
  system: [string, string];
  user: [string, string];
  assistant: [string, string];
  generation: string;
}

const [S, U1, A1, U2] = ['QSYSQ', 'QUSERONEQ', 'QASSISTANTQ', 'QUSERTWOQ'];

/** The pieces of a per-message template, or null where its renderings are not of that form. */
export function templatePieces(render: (m: Message[], gen: boolean) => string): TemplatePieces | null {
  const u = (content: string): Message => ({ role: 'user', content });
  const r1 = render([u(U1)], false);
  const r1g = render([u(U1)], true);
  const r2 = render([u(U1), { role: 'assistant', content: A1 }], false);
  const r3 = render([u(U1), { role: 'assistant', content: A1 }, u(U2)], false);
  const rs = render([{ role: 'system', content: S }, u(U1)], false);
  if (!r1g.startsWith(r1) || !r2.startsWith(r1) || !r3.startsWith(r2)) return null;
  const after = (s: string, m: string) => s.slice(s.indexOf(m) + m.length);
  const US = after(r1, U1);
  const AP = r2.slice(r1.length, r2.indexOf(A1));
  const AS = after(r2, A1);
  const UP = r3.slice(r2.length, r3.indexOf(U2));
  const before = r1.slice(0, r1.indexOf(U1));
  const sysEnd = rs.indexOf(UP + U1);
  if (!before.endsWith(UP) || sysEnd < 0 || !rs.includes(S)) return null;
  const p: TemplatePieces = {
    defaultSystem: before.slice(0, before.length - UP.length),
    system: [rs.slice(0, rs.indexOf(S)), rs.slice(rs.indexOf(S) + S.length, sysEnd)],
    user: [UP, US],
    assistant: [AP, AS],
    generation: r1g.slice(r1.length),
  };
  // the pieces must give back what the template renders, with and without a system turn
  const convo: Message[][] = [
    [{ role: 'system', content: 'Be brief.' }, u('Hi'), { role: 'assistant', content: 'Hello!' }, u('Where is it?')],
    [u('One'), { role: 'assistant', content: 'Two' }, u('Three'), { role: 'assistant', content: 'Four' }, u('Five')],
  ];
  for (const m of convo) if (renderPieces(p, m) !== render(m, true)) return null;
  return p;
}

/** What the pieces render for a conversation, ready for the assistant's turn (as Ollama's template will). */
export function renderPieces(p: TemplatePieces, messages: readonly Message[]): string {
  let out = messages.some((m) => m.role === 'system') ? '' : p.defaultSystem;
  for (const m of messages) {
    const [a, b] = p[m.role];
    out += a + m.content + b;
  }
  return out + p.generation;
}

/** The pieces as an Ollama (Go text/template) TEMPLATE over .Messages. */
export function goTemplate(p: TemplatePieces): string {
  const lit = (s: string) => s.replaceAll('{{', '{{ "{{" }}');
  const role = (r: 'system' | 'user' | 'assistant') => `${lit(p[r][0])}{{ .Content }}${lit(p[r][1])}`;
  return (
    '{{ $sys := false }}{{ range .Messages }}{{ if eq .Role "system" }}{{ $sys = true }}{{ end }}{{ end }}' +
    `{{ if not $sys }}${lit(p.defaultSystem)}{{ end }}` +
    `{{ range .Messages }}{{ if eq .Role "system" }}${role('system')}{{ else if eq .Role "user" }}${role('user')}` +
    `{{ else if eq .Role "assistant" }}${role('assistant')}{{ end }}{{ end }}${lit(p.generation)}`
  );
}

const quote = (s: string) => JSON.stringify(s);

/** The Modelfile for `gguf` (a file name beside it). */
export function modelfile(src: ExportSource, gguf: string): OutFile {
  const tok = new Tokenizer(src.tokenizer);
  const t = ChatTemplate.forTokenizer(tok, src.run.data.template, { vars: CHAT_VARS });
  const pieces = templatePieces((m, gen) => t.render(m, gen));
  const ends = [...new Set([src.eosId, ...(src.endIds ?? [])])].map((id) => tok.decode([id]));
  const s = src.sampling;
  const lines = [
    `# Ollama: ollama create NAME -f Modelfile, then ollama run NAME`,
    `FROM ./${gguf}`,
    pieces && !goTemplate(pieces).includes('"""')
      ? `TEMPLATE """${goTemplate(pieces)}"""`
      : '# TEMPLATE: left to Ollama, which reads the chat template inside the GGUF file (this one rewrites earlier turns)',
    ...ends.filter((e) => e.length).map((e) => `PARAMETER stop ${quote(e)}`),
    `PARAMETER temperature ${s.temperature}`,
    `PARAMETER top_k ${s.topK}`,
    `PARAMETER top_p ${s.topP}`,
    `PARAMETER repeat_penalty ${s.repetitionPenalty}`,
    `PARAMETER num_predict ${s.maxNewTokens}`,
  ];
  return textFile('Modelfile', `${lines.join('\n')}\n`);
}
