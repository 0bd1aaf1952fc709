// The signed-in session: the bearer token from `login`, its expiry and the viewer's e-mail, kept in
// sessionStorage (one browser tab's sign-in; closing the tab signs out of it).
export type Session = { token: string; expiresAt: string | null; email: string };

const KEY = "billrun.session";
type Listener = (session: Session | null, reason: string | null) => void;
const listeners = new Set<Listener>();
let endReason: string | null = null;

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    if (session.expiresAt && Date.parse(session.expiresAt) <= Date.now()) {
      sessionStorage.removeItem(KEY);
      endReason = "Your session has expired; sign in again.";
      return null;
    }
    return session;
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

export function saveSession(session: Session | null, reason: string | null = null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
  endReason = reason;
  listeners.forEach((listener) => listener(session, reason));
}

/** Why the last session ended (expired, revoked), to say on the sign-in screen; read once. */
export function takeEndReason(): string | null {
  const reason = endReason;
  endReason = null;
  return reason;
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentToken(): string | null {
  return loadSession()?.token ?? null;
}
