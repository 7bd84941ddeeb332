// Chat with the current weights, during or after training: streaming tokens, stop, sampling settings, tokens/s.
// The conversation is rendered with the same chat template as training.
import { useState } from 'react';
import { useStudio } from '../../store/index.js';

export function ChatPanel() {
  const { chat, streaming, chatSettings, setChatSettings, sendChat, send, chatTokensPerSecond } = useStudio();
  const [text, setText] = useState('');
  const submit = () => {
    if (!text.trim() || streaming) return;
    sendChat(text.trim());
    setText('');
  };
  return (
    <section className="panel" data-testid="chat-panel">
      <h2>Chat</h2>
      <div className="chat" data-testid="chat-log">
        {chat.map((m, i) => (
          <div key={i} className={`msg ${m.role}`} data-testid={`msg-${m.role}`}>
            <b>{m.role === 'user' ? 'You' : 'Model'}:</b> {m.content}
          </div>
        ))}
      </div>
      <div className="row">
        <input className="grow" data-testid="chat-input" value={text} placeholder="Say something..." onChange={(e) => setText(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && submit()} />
        <button data-testid="chat-send" disabled={!!streaming} onClick={submit}>Send</button>
        <button data-testid="chat-stop" disabled={!streaming} onClick={() => streaming && send({ type: 'chat-stop', id: streaming })}>Stop</button>
      </div>
      <div className="row small">
        {(['temperature', 'topK', 'topP', 'maxNewTokens'] as const).map((k) => (
          <label key={k}>{k} <input type="number" value={chatSettings[k]} step={k === 'temperature' || k === 'topP' ? 0.05 : 1} onChange={(e) => setChatSettings({ [k]: Number(e.target.value) })} /></label>
        ))}
        {chatTokensPerSecond !== null && <span className="muted" data-testid="chat-speed">{chatTokensPerSecond.toFixed(1)} tokens/s</span>}
      </div>
    </section>
  );
}
