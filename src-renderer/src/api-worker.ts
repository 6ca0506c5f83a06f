/**
 * Web mode's API calls that carry a whole document (documents.save: the body and the rich text, a
 * few megabytes for a long manuscript, and the saved document back): the JSON is written, sent and
 * read here, off the page's main thread, so that autosaving while the writer types does not stall
 * the keystrokes (bridge.ts). The page checks the answer as it does for any other call.
 */

export interface WorkerRequest {
  id: number;
  url: string;
  token: string;
  params: unknown;
}

/** status 0: the server could not be reached; body undefined: the answer was not JSON. */
export interface WorkerReply {
  id: number;
  status: number;
  body?: unknown;
}

const scope = self as unknown as { onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null; postMessage(message: WorkerReply): void };

scope.onmessage = (e) => {
  const { id, url, token, params } = e.data;
  void (async () => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify(params ?? {}),
        cache: 'no-store',
      });
    } catch {
      scope.postMessage({ id, status: 0 });
      return;
    }
    try {
      scope.postMessage({ id, status: res.status, body: (await res.json()) as unknown });
    } catch {
      scope.postMessage({ id, status: res.status });
    }
  })();
};
