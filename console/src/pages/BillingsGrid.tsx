import { useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import type { BillingStatus, Direction, PeriodicBillingOrderField } from "../gql/graphql";
import { SetBillingStatus as SetStatus } from "../documents";
import { Errors, Money, RequestError, Status, newKey, useCan, type PayloadError } from "../ui";

const GridQuery = graphql(`
  query ConsoleBillings($id: ID!, $filter: PeriodicBillingFilter, $orderBy: PeriodicBillingOrder, $first: Int,
                        $after: String, $last: Int, $before: String) {
    billingBatch(id: $id) {
      id
      name
      status
      currency
      summary {
        hiddenBillingCount
      }
      periodicBillings(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
        nodes {
          id
          billingStatus
          periodicBillingAmount
          version
          allowedTransitions
          billingStartingDate
          billingEndingDate
          serviceCustomer {
            id
            number
            name
          }
          salesContract {
            id
            number
          }
        }
      }
    }
  }
`);

const MassUpdate = graphql(`
  mutation ConsoleMassUpdate($input: MassUpdateBillingStatusInput!) {
    massUpdateBillingStatus(input: $input) {
      changedCount
      refusedCount
      refusals {
        billingId
        code
        message
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

const STATUSES: BillingStatus[] = ["NEW", "APPROVAL_IN_PROCESS", "APPROVED", "HOLD", "CANCELLED", "REJECTED",
  "REJECTED_WITH_ERRORS", "INVOICED"];
const SETTABLE: BillingStatus[] = ["APPROVED", "APPROVAL_IN_PROCESS", "HOLD", "CANCELLED", "REJECTED", "NEW"];
const PAGE = 25;

type Page = { first?: number; after?: string | null; last?: number; before?: string | null };
type Refusal = { billingId: string; label?: string; code: string; message: string };

export function BillingsGrid() {
  const { id = "" } = useParams();
  const [status, setStatus] = useState<BillingStatus | "">("");
  const [search, setSearch] = useState("");
  const [applied, setApplied] = useState<{ status: BillingStatus | ""; search: string }>({ status: "", search: "" });
  const [field, setField] = useState<PeriodicBillingOrderField>("ID");
  const [direction, setDirection] = useState<Direction>("ASC");
  const [page, setPage] = useState<Page>({ first: PAGE });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [target, setTarget] = useState<BillingStatus>("APPROVED");
  const [refusals, setRefusals] = useState<Refusal[]>([]);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [errors, setErrors] = useState<readonly PayloadError[] | null>(null);
  const canApprove = useCan("BILLING_APPROVE");
  const canAccess = useCan("BILLING_ACCESS");
  const filter = { status: applied.status ? [applied.status] : null, search: applied.search || null };
  const [{ data, error, fetching }, refetch] = useQuery({
    query: GridQuery,
    variables: { id, filter, orderBy: { field, direction }, ...page },
  });
  const [, setOne] = useMutation(SetStatus);
  const [massState, massUpdate] = useMutation(MassUpdate);
  const batch = data?.billingBatch;
  if (error) return <RequestError error={error} />;
  if (!batch) return fetching ? <p>Loading…</p> : <p>No such run. <Link to="/">Back to the runs</Link>.</p>;
  const billings = batch.periodicBillings;
  const editable = batch.status !== "POSTED" && batch.status !== "COMPLETED" && batch.status !== "POSTING";
  const offered = SETTABLE.filter((s) => s !== "APPROVED" || canApprove);
  const reload = () => refetch({ requestPolicy: "network-only" });
  const label = (billingId: string) => {
    const b = billings.nodes.find((n) => n.id === billingId);
    return b ? `${b.serviceCustomer.number} ${b.serviceCustomer.name} ${b.billingStartingDate}` : billingId;
  };

  const applySelected = async () => {
    setErrors(null);
    const refused: Refusal[] = [];
    let changed = 0;
    for (const billingId of selected) {
      const billing = billings.nodes.find((n) => n.id === billingId);
      const r = await setOne({ input: { billingId, status: target, expectedVersion: billing?.version ?? null, idempotencyKey: newKey() } });
      const p = r.data?.updateBillingStatus;
      if (p?.periodicBilling) changed += 1;
      p?.errors.forEach((e) => refused.push({ billingId, label: label(billingId), code: e.code, message: e.message }));
    }
    setRefusals(refused);
    setOutcome(`${changed} changed, ${refused.length} refused.`);
    setSelected(new Set());
    reload();
  };
  const applyMatching = async () => {
    setErrors(null);
    const r = await massUpdate({ input: { batchId: batch.id, status: target, filter, idempotencyKey: newKey() } });
    const p = r.data?.massUpdateBillingStatus;
    if (!p) return;
    setErrors(p.errors.length ? p.errors : null);
    setRefusals(p.refusals.map((x) => ({ ...x, label: label(x.billingId) })));
    if (!p.errors.length) setOutcome(`${p.changedCount} changed, ${p.refusedCount} refused.`);
    setSelected(new Set());
    reload();
  };
  const toggle = (billingId: string) => {
    const next = new Set(selected);
    if (next.has(billingId)) next.delete(billingId);
    else next.add(billingId);
    setSelected(next);
  };
  const allOnPage = billings.nodes.length > 0 && billings.nodes.every((n) => selected.has(n.id));

  return (
    <>
      <p><Link to={`/runs/${encodeURIComponent(batch.id)}`}>← {batch.name}</Link></p>
      <h1>Billings of {batch.name}</h1>
      <form className="filters" aria-label="Filter billings" onSubmit={(e) => { e.preventDefault(); setApplied({ status, search }); setPage({ first: PAGE }); }}>
        <label htmlFor="billing-status">Status</label>
        <select id="billing-status" value={status} onChange={(e) => setStatus(e.target.value as BillingStatus | "")}>
          <option value="">Any</option>
          {STATUSES.map((s) => <option key={s} value={s}>{s.replace(/_/g, " ")}</option>)}
        </select>
        <label htmlFor="billing-search">Search</label>
        <input id="billing-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <button type="submit">Filter</button>
        <label htmlFor="billing-order">Sort by</label>
        <select id="billing-order" value={field} onChange={(e) => { setField(e.target.value as PeriodicBillingOrderField); setPage({ first: PAGE }); }}>
          <option value="ID">Creation</option>
          <option value="AMOUNT">Amount</option>
          <option value="BILLING_STARTING_DATE">Period start</option>
        </select>
        <label htmlFor="billing-direction">Direction</label>
        <select id="billing-direction" value={direction} onChange={(e) => { setDirection(e.target.value as Direction); setPage({ first: PAGE }); }}>
          <option value="ASC">Ascending</option>
          <option value="DESC">Descending</option>
        </select>
      </form>
      <p role="status">{billings.totalCount} billing{billings.totalCount === 1 ? "" : "s"} match.</p>
      {editable && canAccess ? (
        <form className="mass" aria-label="Change status" onSubmit={(e) => e.preventDefault()}>
          <label htmlFor="mass-status">New status</label>
          <select id="mass-status" value={target} onChange={(e) => setTarget(e.target.value as BillingStatus)}>
            {offered.map((s) => <option key={s} value={s}>{s.replace(/_/g, " ")}</option>)}
          </select>
          <button type="button" disabled={selected.size === 0} onClick={applySelected}>Apply to {selected.size} selected</button>
          <button type="button" disabled={massState.fetching || billings.totalCount === 0} onClick={applyMatching}>
            Apply to all {billings.totalCount} matching
          </button>
        </form>
      ) : null}
      <Errors errors={errors} onReload={reload} />
      {outcome ? <p role="status" className="outcome">{outcome}</p> : null}
      {refusals.length ? (
        <div role="alert" className="errors">
          <p>Refused:</p>
          <ul className="refusals">
            {refusals.map((r, i) => <li key={i}>{r.label}: <strong>{r.code}</strong>: {r.message}</li>)}
          </ul>
          {refusals.some((r) => r.code === "CONCURRENT_UPDATE") ? (
            <p>Some billings changed since you loaded them. <button type="button" onClick={reload}>Reload</button></p>
          ) : null}
        </div>
      ) : null}
      <table className="grid">
        <caption className="sr-only">Billings</caption>
        <thead>
          <tr>
            <th scope="col">
              {editable && canAccess ? (
                <input type="checkbox" aria-label="Select every billing on this page" checked={allOnPage}
                       onChange={() => setSelected(allOnPage ? new Set() : new Set(billings.nodes.map((n) => n.id)))} />
              ) : <span className="sr-only">Selection</span>}
            </th>
            <th scope="col">Account</th><th scope="col">Contract</th><th scope="col">Period</th>
            <th scope="col">Amount</th><th scope="col">Status</th><th scope="col">May become</th>
          </tr>
        </thead>
        <tbody>
          {billings.nodes.map((b) => (
            <tr key={b.id}>
              <td>
                {editable && canAccess ? (
                  <input type="checkbox" aria-label={`Select ${b.serviceCustomer.number} ${b.billingStartingDate}`}
                         checked={selected.has(b.id)} onChange={() => toggle(b.id)} />
                ) : null}
              </td>
              <td><Link to={`/billings/${encodeURIComponent(b.id)}`}>{b.serviceCustomer.number} {b.serviceCustomer.name}</Link></td>
              <td>{b.salesContract?.number ?? ""}</td>
              <td>{b.billingStartingDate} – {b.billingEndingDate}</td>
              <td><Money amount={b.periodicBillingAmount} currency={batch.currency} /></td>
              <td><Status value={b.billingStatus} /></td>
              <td>{b.allowedTransitions.map((t) => t.replace(/_/g, " ")).join(", ") || "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav aria-label="Pages of billings" className="pager">
        <button type="button" disabled={!(billings.pageInfo.hasPreviousPage || page.after)}
                onClick={() => setPage({ last: PAGE, before: billings.pageInfo.startCursor })}>Previous page</button>
        <button type="button" disabled={!(billings.pageInfo.hasNextPage || page.before)}
                onClick={() => setPage({ first: PAGE, after: billings.pageInfo.endCursor })}>Next page</button>
      </nav>
    </>
  );
}
