// Tests: the error a promise rejects with, typed for the fields the project's errors carry (a code, an exit
// status and stderr from a child process), so an assertion can read them without an `any`. Fails the test when
// the promise resolves instead.
export type Caught = Error & { code?: unknown; stderr?: unknown; stdout?: unknown };

export async function caught(p: Promise<unknown>): Promise<Caught> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Error) return e;
    throw new Error(`rejected with a non-Error: ${String(e)}`, { cause: e });
  }
  throw new Error('expected the promise to reject, but it resolved');
}
