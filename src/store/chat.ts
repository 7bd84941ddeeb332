// The Chat panel's slice: the conversation, its system prompt and sampling, and the reply streaming now. Comparing,
// each message is answered by the tuned weights and then by the base model on the same turns, side by side; a
// reply's tokens carry its request's id, so those of a stopped or superseded request are dropped.
import type { ChatSettings, ChatWeights } from '../protocol.js';
import type { GetStudio, SetStudio, SliceCreator, SliceHandlers } from './types.js';

export const DEFAULT_CHAT: ChatSettings = Object.freeze({
  temperature: 0.7,
  topK: 40,
  topP: 0.95,
  repetitionPenalty: 1.15,
  maxNewTokens: 64,
});

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
  /** Comparing: the base model's reply to the same conversation ('' while it has not come yet). */
  base?: string;
  tokensPerSecond?: number;
}

export interface ChatSlice {
  chat: ChatMessage[];
  chatSettings: ChatSettings;
  systemPrompt: string;
  /** Each message is answered by the tuned weights and then the base model, side by side. */
  compare: boolean;
  /** The id of the request streaming now (null: none), and which weights it comes from. */
  streaming: number | null;
  streamingWeights: ChatWeights;
  /** The id of the last request sent (ids count up from 1). */
  lastChatId: number;
  /** The base model answers after the tuned reply ends (comparing, and not stopped). */
  baseNext: boolean;
  chatTokensPerSecond: number | null;
  sendChat: (text: string) => void;
  /** Asks again for the reply to the person's last message. */
  regenerate: () => void;
  clearChat: () => void;
  /** Stops the reply streaming now; comparing, the base model is not asked either. */
  stopChat: () => void;
  setSystemPrompt: (t: string) => void;
  setCompare: (on: boolean) => void;
  setChatSettings: (s: Partial<ChatSettings>) => void;
}

/** The conversation as the model sees it: the system prompt, then the turns (their text only). */
function conversation(systemPrompt: string, turns: ChatMessage[]) {
  const msgs = turns.map((m) => ({ role: m.role, content: m.content }));
  return systemPrompt.trim() ? [{ role: 'system' as const, content: systemPrompt.trim() }, ...msgs] : msgs;
}

/** Streams a reply from `weights` to `turns` into the last (assistant) message. */
function stream(set: SetStudio, get: GetStudio, turns: ChatMessage[], weights: ChatWeights) {
  const id = get().lastChatId + 1;
  set({ lastChatId: id, streaming: id, streamingWeights: weights });
  const { systemPrompt, chatSettings: settings } = get();
  get().send({ type: 'chat', id, messages: conversation(systemPrompt, turns), settings, weights });
}

/** A new assistant message for `turns` (ending in the person's): the tuned reply, then the base one if comparing. */
function reply(set: SetStudio, get: GetStudio, turns: ChatMessage[]) {
  const { compare } = get();
  set({ chat: [...turns, { role: 'assistant', content: '', base: compare ? '' : undefined }], baseNext: compare });
  stream(set, get, turns, 'tuned');
}

export const createChatSlice: SliceCreator<ChatSlice> = (set, get) => ({
  chat: [],
  chatSettings: DEFAULT_CHAT,
  systemPrompt: '',
  compare: false,
  streaming: null,
  streamingWeights: 'tuned',
  lastChatId: 0,
  baseNext: false,
  chatTokensPerSecond: null,
  sendChat: (text) => {
    if (get().streaming) return;
    reply(set, get, [...get().chat, { role: 'user', content: text }]);
  },
  regenerate: () => {
    const { chat, streaming } = get();
    const lastUser = chat.map((m) => m.role).lastIndexOf('user');
    if (streaming || lastUser < 0) return;
    reply(set, get, chat.slice(0, lastUser + 1));
  },
  clearChat: () => {
    get().stopChat();
    set({ chat: [], chatTokensPerSecond: null });
  },
  stopChat: () => {
    const { streaming } = get();
    set({ baseNext: false });
    if (streaming) get().send({ type: 'chat-stop', id: streaming });
  },
  setSystemPrompt: (systemPrompt) => set({ systemPrompt }),
  setCompare: (compare) => set({ compare }),
  setChatSettings: (s) => set({ chatSettings: { ...get().chatSettings, ...s } }),
});

export const chatHandlers: SliceHandlers<'chat-token' | 'chat-done' | 'error'> = (set, get) => ({
  'chat-token': (m) => {
    const { streaming, streamingWeights } = get();
    if (m.id !== streaming) return;
    const chat = [...get().chat];
    const last = chat[chat.length - 1];
    chat[chat.length - 1] =
      streamingWeights === 'base'
        ? { ...last, base: (last.base ?? '') + m.text }
        : { ...last, content: last.content + m.text };
    set({ chat });
  },
  'chat-done': (m) => {
    const { streaming, streamingWeights, baseNext } = get();
    if (m.id !== streaming) return;
    const chat = [...get().chat];
    const last = chat[chat.length - 1];
    if (streamingWeights === 'tuned') chat[chat.length - 1] = { ...last, tokensPerSecond: m.tokensPerSecond };
    set({ chat, streaming: null, chatTokensPerSecond: m.tokensPerSecond });
    if (streamingWeights === 'tuned' && baseNext) stream(set, get, chat.slice(0, -1), 'base');
  },
  error: (m) => {
    if (m.context === 'chat') set({ streaming: null, baseNext: false });
  },
});
