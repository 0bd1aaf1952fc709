import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { graphql } from "../gql";
import type { BatchView } from "../gql/graphql";
import { Money, RequestError, Status, useCan } from "../ui";

const RunsQuery = graphql(`
  query ConsoleRuns($filter: BillingBatchFilter, $first: Int, $after: String) {
    billingBatches(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        code
        name
        status
        billGroup
        division
        currency
        invoiceDate
        summary {
          billingCount
          totalAmount
          invoiceCount
          totalAmountDue
          hiddenBillingCount
        }
      }
    }
  }
`);

const TABS: { view: BatchView; label: string }[] = [
  { view: "ALL", label: "All" },
  { view: "DRAFT", label: "Draft" },
  { view: "POSTED", label: "Posted" },
];

export function RunsList() {
  const [params, setParams] = useSearchParams();
  const view = (params.get("view") as BatchView | null) ?? "ALL";
  const [search, setSearch] = useState(params.get("search") ?? "");
  const [billGroup, setBillGroup] = useState(params.get("billGroup") ?? "");
  const [division, setDivision] = useState(params.get("division") ?? "");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const filter = {
    view,
    search: params.get("search") || null,
    billGroup: params.get("billGroup") || null,
    division: params.get("division") || null,
  };
  const [{ data, error, fetching }] = useQuery({
    query: RunsQuery,
    variables: { filter, first: 20, after: cursors[cursors.length - 1] },
  });
  const canCreate = useCan("BILLING_ACCESS");
  const apply = (next: Record<string, string>) => {
    const merged = new URLSearchParams(params);
    Object.entries(next).forEach(([k, v]) => (v ? merged.set(k, v) : merged.delete(k)));
    setCursors([null]);
    setParams(merged);
  };
  const runs = data?.billingBatches;
  const total = runs?.nodes.reduce((sum, run) => sum + Number(run.summary.totalAmount), 0) ?? 0;
  return (
    <>
      <h1>Billing runs</h1>
      {canCreate ? <p><Link to="/runs/new" className="button">Create a run</Link></p> : null}
      <div role="group" aria-label="Which runs" className="tabs">
        {TABS.map((tab) => (
          <button key={tab.view} type="button" aria-pressed={view === tab.view} onClick={() => apply({ view: tab.view })}>
            {tab.label}
          </button>
        ))}
      </div>
      <form className="filters" aria-label="Filter runs" onSubmit={(e) => { e.preventDefault(); apply({ search, billGroup, division }); }}>
        <label htmlFor="runs-search">Search</label>
        <input id="runs-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <label htmlFor="runs-bill-group">Bill group</label>
        <input id="runs-bill-group" value={billGroup} onChange={(e) => setBillGroup(e.target.value)} />
        <label htmlFor="runs-division">Division</label>
        <input id="runs-division" value={division} onChange={(e) => setDivision(e.target.value)} />
        <button type="submit">Filter</button>
      </form>
      <RequestError error={error} />
      {runs ? (
        <>
          <p role="status">
            {runs.totalCount} run{runs.totalCount === 1 ? "" : "s"}; this page totals <Money amount={total.toFixed(2)} />
          </p>
          <table>
            <caption className="sr-only">Billing runs</caption>
            <thead>
              <tr>
                <th scope="col">Code</th><th scope="col">Name</th><th scope="col">Status</th>
                <th scope="col">Bill group</th><th scope="col">Division</th><th scope="col">Invoice date</th>
                <th scope="col">Billings</th><th scope="col">Total</th><th scope="col">Invoices</th>
              </tr>
            </thead>
            <tbody>
              {runs.nodes.map((run) => (
                <tr key={run.id}>
                  <td>{run.code}</td>
                  <td><Link to={`/runs/${encodeURIComponent(run.id)}`}>{run.name}</Link></td>
                  <td><Status value={run.status} /></td>
                  <td>{run.billGroup ?? "all"}</td>
                  <td>{run.division ?? "all"}</td>
                  <td>{run.invoiceDate}</td>
                  <td>{run.summary.billingCount}</td>
                  <td><Money amount={run.summary.totalAmount} currency={run.currency} /></td>
                  <td>{run.summary.invoiceCount}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav aria-label="Pages of runs" className="pager">
            <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Previous page</button>
            <button type="button" disabled={!runs.pageInfo.hasNextPage}
                    onClick={() => setCursors([...cursors, runs.pageInfo.endCursor ?? null])}>Next page</button>
          </nav>
        </>
      ) : fetching ? <p>Loading…</p> : null}
    </>
  );
}
