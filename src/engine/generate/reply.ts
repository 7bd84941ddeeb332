// A reply as it grows token by token, shared by the generator and the batch decoder: which tokens end it, the text
// to stream after each token (a partial UTF-8 character is held back until the next token completes it), and the
// stop strings, whose text is cut from the reply.
import type { Detokenizer } from './generator.js';

export class ReplyText {
  readonly tokens: number[] = [];
  /** The text streamed so far. */
  text = '';
  stopped = false;

  constructor(
    private readonly tok: Detokenizer,
    private readonly stopStrings: readonly string[] = [],
  ) {}

  /** True for the tokenizer's eos and every other end id. */
  isEnd(token: number): boolean {
    return token === this.tok.eosId || !!this.tok.endIds?.includes(token);
  }

  /** Adds a token; returns the text to stream now, null while a character is incomplete. Sets `stopped` at a stop string. */
  push(token: number): string | null {
    this.tokens.push(token);
    const full = this.tok.decode(this.tokens);
    const at = this.stopStrings
      .map((s) => full.indexOf(s, Math.max(0, this.text.length - s.length)))
      .find((i) => i >= 0);
    const prev = this.text.length;
    if (at !== undefined) {
      this.stopped = true;
      this.text = full.slice(0, at);
      return at > prev ? this.text.slice(prev) : null;
    }
    if (full.endsWith('\uFFFD')) return null;
    this.text = full;
    return full.slice(prev);
  }

  /** The whole reply: up to the stop string, else every token decoded. */
  final(): string {
    return this.stopped ? this.text : this.tok.decode(this.tokens);
  }
}
