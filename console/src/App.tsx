import { useEffect, useMemo, useState } from "react";
import { BrowserRouter, Link, Navigate, NavLink, Outlet, Route, Routes, useNavigate } from "react-router";
import { Provider, useMutation, useQuery } from "urql";
import { makeClient, resetWebSocket } from "./client";
import { graphql } from "./gql";
import { ApprovalRules } from "./pages/ApprovalRules";
import { BillingPage } from "./pages/BillingPage";
import { BillingsGrid } from "./pages/BillingsGrid";
import { CreateRun } from "./pages/CreateRun";
import { CreditInvoice, CreditNotes } from "./pages/CreditNotes";
import { Invoices } from "./pages/Invoices";
import { Login } from "./pages/Login";
import { RunPage } from "./pages/RunPage";
import { RunsList } from "./pages/RunsList";
import { Schedules } from "./pages/Schedules";
import { loadSession, onSessionChange, saveSession, type Session } from "./session";
import { RequestError, ViewerContext } from "./ui";

const ViewerQuery = graphql(`
  query ConsoleViewer {
    viewer {
      id
      name
      email
      permissions
    }
  }
`);

const LogoutMutation = graphql(`
  mutation ConsoleLogout {
    logout {
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

function useSession(): Session | null {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  useEffect(() => onSessionChange((next) => setSession(next)), []);
  useEffect(() => {
    // The session ends on its own at its expiry: back to sign-in, saying so.
    if (!session?.expiresAt) return;
    const wait = Date.parse(session.expiresAt) - Date.now();
    const timer = setTimeout(() => saveSession(null, "Your session has expired; sign in again."),
                             Math.max(0, Math.min(wait, 2 ** 31 - 1)));
    return () => clearTimeout(timer);
  }, [session]);
  return session;
}

function Shell() {
  const [{ data, error }] = useQuery({ query: ViewerQuery, requestPolicy: "network-only" });
  const [, logout] = useMutation(LogoutMutation);
  const navigate = useNavigate();
  const viewer = data?.viewer;
  if (error) return <main><RequestError error={error} /></main>;
  if (!viewer) return <main><p>Loading…</p></main>;
  const signOut = async () => {
    await logout({});
    saveSession(null, "You have signed out.");
    navigate("/login");
  };
  return (
    <ViewerContext.Provider value={{ ...viewer, permissions: [...viewer.permissions] }}>
      <header className="top">
        <Link to="/" className="brand">billrun</Link>
        <nav aria-label="Main">
          <NavLink to="/" end>Runs</NavLink>
          <NavLink to="/invoices">Invoices</NavLink>
          {viewer.permissions.includes("BILLING_SEND_EXPORT") ? <NavLink to="/credit-notes">Credit notes</NavLink> : null}
          <NavLink to="/schedules">Schedules</NavLink>
          {viewer.permissions.includes("ADMIN") ? <NavLink to="/approval-rules">Approval rules</NavLink> : null}
          <a href="/graphql">GraphiQL</a>
        </nav>
        <span className="who">Signed in as {viewer.name} ({viewer.email})</span>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Outlet />
      </main>
    </ViewerContext.Provider>
  );
}

function RequireSession({ session }: { session: Session | null }) {
  if (!session) return <Navigate to="/login" replace />;
  return <Shell />;
}

export function App() {
  const session = useSession();
  // A new client (and socket) per session: nothing cached or subscribed survives a sign-out.
  const client = useMemo(() => {
    resetWebSocket();
    return makeClient();
  }, [session?.token]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Provider value={client}>
      <BrowserRouter basename="/app">
        <Routes>
          <Route path="/login" element={session ? <Navigate to="/" replace /> : <Login />} />
          <Route element={<RequireSession session={session} />}>
            <Route index element={<RunsList />} />
            <Route path="runs/new" element={<CreateRun />} />
            <Route path="runs/:id" element={<RunPage />} />
            <Route path="runs/:id/billings" element={<BillingsGrid />} />
            <Route path="billings/:id" element={<BillingPage />} />
            <Route path="invoices" element={<Invoices />} />
            <Route path="invoices/:id/credit" element={<CreditInvoice />} />
            <Route path="credit-notes" element={<CreditNotes />} />
            <Route path="schedules" element={<Schedules />} />
            <Route path="approval-rules" element={<ApprovalRules />} />
            <Route path="*" element={<p>Nothing here. <Link to="/">Back to the runs</Link>.</p>} />
          </Route>
        </Routes>
      </BrowserRouter>
    </Provider>
  );
}
