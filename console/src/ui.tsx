// Shared pieces: payload errors shown in place, the viewer's permissions, money and status display.
import { createContext, useContext, useState, type ReactNode } from "react";

export type PayloadError = { code: string; field?: string | null; message: string };

export type Viewer = { id: string; name: string; email: string; permissions: string[] };
export const ViewerContext = createContext<Viewer | null>(null);

export function useViewer(): Viewer {
  const viewer = useContext(ViewerContext);
  if (!viewer) throw new Error("no viewer");
  return viewer;
}

export function useCan(permission: string): boolean {
  return useViewer().permissions.includes(permission);
}

/** A payload's `errors`, each with its code and message, where the action was; a version conflict says reload. */
export function Errors({ errors, onReload }: { errors?: readonly PayloadError[] | null; onReload?: () => void }) {
  if (!errors || errors.length === 0) return null;
  const conflict = errors.some((e) => e.code === "CONCURRENT_UPDATE");
  return (
    <div role="alert" className="errors">
      <ul>
        {errors.map((e, i) => (
          <li key={i} data-code={e.code}>
            <strong>{e.code}</strong>: {e.message}
            {e.field ? <span className="field"> ({e.field})</span> : null}
          </li>
        ))}
      </ul>
      {conflict ? (
        <p>
          Someone changed this since you opened it.{" "}
          <button type="button" onClick={onReload ?? (() => location.reload())}>
            Reload
          </button>{" "}
          to see the current version, then decide again.
        </p>
      ) : null}
    </div>
  );
}

/** A GraphQL-level error (a bug or bad request, never a business refusal). */
export function RequestError({ error }: { error?: { message: string } | null }) {
  if (!error) return null;
  return (
    <p role="alert" className="errors">
      {error.message}
    </p>
  );
}

export function Money({ amount, currency }: { amount: string; currency?: string }) {
  return (
    <span className="money">
      {amount}
      {currency ? ` ${currency}` : ""}
    </span>
  );
}

export function Status({ value }: { value: string }) {
  return <span className={`status status-${value.toLowerCase()}`}>{value.replace(/_/g, " ")}</span>;
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/\W+/g, "-")}-heading`;
  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

export function newKey(): string {
  return crypto.randomUUID();
}

/** A row action: runs a mutation, keeps its payload errors to show in place, then refreshes the screen. */
export function useAction(after: () => void) {
  const [errors, setErrors] = useState<readonly PayloadError[] | null>(null);
  const act = async (run: () => Promise<{ errors: readonly PayloadError[] } | undefined>) => {
    setErrors(null);
    const payload = await run();
    if (payload?.errors.length) setErrors(payload.errors);
    after();
  };
  return { errors, act };
}
