// What "Try it" is doing and what to look at, while it loads, trains and after: one line, more on request.
import { useStudio } from '../../store/index.js';

export function Guide() {
  const { tour, dismissTour, run, dataset } = useStudio();
  if (!tour) return null;
  const s = run?.settings;
  return (
    <section className="guide" data-testid="guide" aria-live="polite" aria-label="What is happening">
      <div>
        {tour.error ? (
          <p className="error" role="alert" data-testid="guide-error">
            Try it could not start: {tour.error}
          </p>
        ) : tour.stage === 'loading' ? (
          <p>
            <b>Getting ready:</b> loading the offline tiny GPT-2 and the bundled sample support conversations; training
            starts by itself.
          </p>
        ) : (
          <details>
            <summary>
              <b>Training</b> the tiny GPT-2 on {dataset?.records ?? 'the'} sample support chats. <b>Look at:</b> the
              loss falling, sample replies every {s?.sampleEvery} steps, and chat on the right.
            </summary>
            <p>
              {s?.steps} steps of {s?.batch} x {s?.seq} tokens
              {s?.loraRank
                ? `, low-rank adapters of rank ${s.loraRank}`
                : ', every weight of the model (it starts from random weights, so replies start as noise)'}
              ; everything runs on this device. The <b>loss</b> is how badly the model predicts the replies in your
              data: lower is better. Orange points are the <b>validation loss</b>, on conversations it never trains on:
              if it rises while the training loss falls, the model is memorizing. The <b>sample replies</b> pick up the
              data's words as the loss falls (a model this small will not make sense; a Hub GPT-2 will). In <b>chat</b>,
              tick "Compare with the base model" to see what training changed.
            </p>
          </details>
        )}
      </div>
      <button onClick={dismissTour} aria-label="Close the guide">
        Close
      </button>
    </section>
  );
}
