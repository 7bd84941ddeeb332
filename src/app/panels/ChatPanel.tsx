// Chat with the current weights, during or after training: a system prompt, streaming tokens with tokens/s, stop,
// regenerate, clear, copy, sampling settings, and "compare with the base model" (the same conversation answered by
// the tuned weights and by the base model, side by side). Enter sends, Shift+Enter starts a new line. The
// conversation is rendered with the same chat template as training.
import { useEffect, useRef, useState } from 'react';
import { useStudio, type ChatMessage } from '../../store/index.js';

export function ChatPanel() {
  const {
    chat,
    streaming,
    chatSettings,
    setChatSettings,
    sendChat,
    stopChat,
    regenerate,
    clearChat,
    chatTokensPerSecond,
    systemPrompt,
    setSystemPrompt,
    compare,
    setCompare,
    run,
  } = useStudio();
  const [text, setText] = useState('');
  const log = useRef<HTMLDivElement>(null);
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [chat]);
  const submit = () => {
    if (!text.trim() || streaming) return;
    sendChat(text.trim());
    setText('');
  };
  const tuned = run ? (run.settings.loraRank > 0 ? 'Tuned (adapter on)' : 'Tuned') : 'Model';
  const base = run && run.settings.loraRank > 0 ? 'Base (adapter off)' : 'Base';
  return (
    <section className="panel" data-testid="chat-panel" aria-labelledby="chat-title">
      <div className="step-head">
        <h2 id="chat-title">Chat</h2>
        <span className="muted">
          {run
            ? `with the weights of this run (${run.status === 'training' ? 'live' : `step ${run.step}`})`
            : 'with the untrained model'}
        </span>
      </div>
      <details className="compact">
        <summary>System prompt and sampling</summary>
        <label className="field">
          System prompt
          <textarea
            data-testid="system-prompt"
            rows={2}
            value={systemPrompt}
            placeholder="e.g. You are a helpful support agent."
            onChange={(e) => setSystemPrompt(e.target.value)}
          />
        </label>
        <div className="row">
          {(['temperature', 'topK', 'topP', 'repetitionPenalty', 'maxNewTokens'] as const).map((k) => (
            <label key={k}>
              {LABELS[k]}{' '}
              <input
                type="number"
                value={chatSettings[k]}
                step={k === 'temperature' || k === 'topP' || k === 'repetitionPenalty' ? 0.05 : 1}
                onChange={(e) => setChatSettings({ [k]: Number(e.target.value) })}
              />
            </label>
          ))}
        </div>
      </details>
      <label
        className="compact"
        title={
          run
            ? 'Each message is answered by the tuned weights and then by the base model'
            : 'Train a run first: until then both are the same model'
        }
      >
        <input
          type="checkbox"
          data-testid="chat-compare"
          checked={compare}
          disabled={!run}
          onChange={(e) => setCompare(e.target.checked)}
        />{' '}
        Compare with the base model
      </label>
      <div
        className="chat"
        data-testid="chat-log"
        ref={log}
        role="log"
        aria-live="polite"
        aria-label="Conversation"
        tabIndex={0}
      >
        {chat.length === 0 && <p className="muted">Ask something your data is about, e.g. "Where is my order?"</p>}
        {chat.map((m, i) =>
          m.role === 'user' ? (
            <div key={i} className="msg user" data-testid="msg-user">
              <span className="sr-only">You: </span>
              {m.content}
            </div>
          ) : m.base !== undefined ? (
            <div key={i} className="pair" data-testid="msg-pair">
              <Reply
                m={m}
                label={tuned}
                testId="msg-assistant"
                text={m.content}
                streaming={!!streaming && i === chat.length - 1}
              />
              <Reply
                m={m}
                label={base}
                testId="msg-base"
                text={m.base}
                base
                streaming={!!streaming && i === chat.length - 1}
              />
            </div>
          ) : (
            <Reply
              key={i}
              m={m}
              label="Model"
              testId="msg-assistant"
              text={m.content}
              streaming={!!streaming && i === chat.length - 1}
            />
          ),
        )}
      </div>
      <div className="composer">
        <label htmlFor="chat-input" className="sr-only">
          Message (Enter sends, Shift+Enter starts a new line)
        </label>
        <textarea
          id="chat-input"
          data-testid="chat-input"
          rows={1}
          value={text}
          placeholder="Message (Enter sends, Shift+Enter for a new line)"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
        />
        <button className="primary" data-testid="chat-send" disabled={!!streaming || !text.trim()} onClick={submit}>
          Send
        </button>
        <button data-testid="chat-stop" disabled={!streaming} onClick={stopChat}>
          Stop
        </button>
      </div>
      <div className="row compact" style={{ margin: '4px 0 0' }}>
        <button
          data-testid="chat-regenerate"
          disabled={!!streaming || !chat.some((m) => m.role === 'user')}
          onClick={regenerate}
        >
          Regenerate
        </button>
        <button data-testid="chat-clear" disabled={!chat.length} onClick={clearChat}>
          Clear
        </button>
        {chatTokensPerSecond !== null && (
          <span className="muted" data-testid="chat-speed">
            {chatTokensPerSecond.toFixed(1)} tokens/s
          </span>
        )}
      </div>
    </section>
  );
}

const LABELS = {
  temperature: 'Temperature',
  topK: 'Top-k',
  topP: 'Top-p',
  repetitionPenalty: 'Repetition penalty',
  maxNewTokens: 'Max new tokens',
} as const;

function Reply({
  m,
  label,
  text,
  testId,
  base,
  streaming,
}: {
  m: ChatMessage;
  label: string;
  text: string;
  testId: string;
  base?: boolean;
  streaming: boolean;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(text);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div className={`msg assistant${base ? ' base' : ''}`} data-testid={testId} aria-busy={streaming || undefined}>
      <span className="who">{label}:</span> <span data-testid="reply-text">{text}</span>
      {!text && !streaming && (
        <span className="muted" data-testid="reply-empty">
          (the model ended its reply at once)
        </span>
      )}
      <span className="meta">
        {!base && m.tokensPerSecond !== undefined && <span>{m.tokensPerSecond.toFixed(1)} tokens/s</span>}
        {text && (
          <button
            onClick={() => void copy()}
            aria-label={`Copy the ${base ? 'base' : 'tuned'} reply`}
            data-testid={`copy-${base ? 'base' : 'tuned'}`}
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
        )}
      </span>
    </div>
  );
}
