import { useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import type { BillingStatus } from "../gql/graphql";
import { SetBillingStatus as SetStatus } from "../documents";
import { Errors, Money, RequestError, Section, Status, newKey, useCan, type PayloadError } from "../ui";

const BillingQuery = graphql(`
  query ConsoleBilling($id: ID!) {
    periodicBilling(id: $id) {
      id
      billingStatus
      periodicBillingAmount
      version
      allowedTransitions
      billingStartingDate
      billingEndingDate
      internalComment
      externalComment
      change {
        amount
        percent
      }
      batch {
        id
        name
        status
        currency
      }
      serviceCustomer {
        id
        number
        name
      }
      salesContract {
        id
        number
      }
      invoice {
        id
        number
        pdfUrl
      }
      details {
        id
        kind
        description
        daysBilled
        daysInPeriod
        priceSource
        billingAmount
        trace {
          why
          formula
          unitPrice
          quantity
          taxRate
          taxLocation
          period {
            start
            end
          }
        }
        revenueAccount {
          id
          code
          name
        }
        distributions {
          amount
          revenueAccount {
            id
            code
            name
          }
        }
      }
      audits {
        id
        entity
        field
        operation
        actorLabel
        at
        before
        after
      }
    }
  }
`);

const EditLine = graphql(`
  mutation ConsoleEditLine($input: UpdateBillingDetailInput!) {
    updateBillingDetail(input: $input) {
      periodicBilling {
        id
        periodicBillingAmount
        version
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

const EditComments = graphql(`
  mutation ConsoleEditComments($input: UpdatePeriodicBillingInput!) {
    updatePeriodicBilling(input: $input) {
      periodicBilling {
        id
        internalComment
        externalComment
        version
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

/** The trace's own words: the formula and why, when it has them. */
function traceText(trace: { why: string; formula: string }): string {
  return [trace.formula, trace.why].filter((x) => x.length > 0).join(" — ");
}

type TraceFacts = {
  unitPrice?: unknown; quantity?: unknown; taxRate?: unknown; taxLocation?: string | null;
  period: { start: unknown; end: unknown };
};

/** The facts behind the amount, as the server's typed trace gives them (only those the line has). */
function traceFacts(trace: TraceFacts): [string, string][] {
  const facts: [string, unknown][] = [["Period", `${trace.period.start} – ${trace.period.end}`],
    ["Unit price", trace.unitPrice], ["Quantity", trace.quantity], ["Tax rate", trace.taxRate],
    ["Tax location", trace.taxLocation]];
  return facts.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [k, String(v)]);
}

export function BillingPage() {
  const { id = "" } = useParams();
  const [{ data, error, fetching }, refetch] = useQuery({ query: BillingQuery, variables: { id } });
  const [, setStatus] = useMutation(SetStatus);
  const [, editLine] = useMutation(EditLine);
  const [, editComments] = useMutation(EditComments);
  const [errors, setErrors] = useState<readonly PayloadError[] | null>(null);
  const [amounts, setAmounts] = useState<Record<string, string>>({});
  const [comment, setComment] = useState<string | null>(null);
  const canAccess = useCan("BILLING_ACCESS");
  const billing = data?.periodicBilling;
  const reload = () => { setErrors(null); refetch({ requestPolicy: "network-only" }); };
  if (error) return <RequestError error={error} />;
  if (!billing) return fetching ? <p>Loading…</p> : <p>No such billing (or it is not yours to see). <Link to="/">Back to the runs</Link>.</p>;
  const currency = billing.batch?.currency;
  const editable = canAccess && ["NEW", "HOLD", "APPROVAL_IN_PROCESS"].includes(billing.billingStatus)
    && billing.batch?.status !== "POSTED" && billing.batch?.status !== "COMPLETED";
  const decide = async (status: BillingStatus) => {
    const r = await setStatus({ input: { billingId: billing.id, status, expectedVersion: billing.version, idempotencyKey: newKey() } });
    setErrors(r.data?.updateBillingStatus.errors.length ? r.data.updateBillingStatus.errors : null);
    if (r.data?.updateBillingStatus.periodicBilling) refetch({ requestPolicy: "network-only" });
  };

  return (
    <>
      {billing.batch ? <p><Link to={`/runs/${encodeURIComponent(billing.batch.id)}/billings`}>← Billings of {billing.batch.name}</Link></p> : null}
      <h1>{billing.serviceCustomer.number} {billing.serviceCustomer.name}: {billing.billingStartingDate} – {billing.billingEndingDate} <Status value={billing.billingStatus} /></h1>
      <dl className="facts">
        <dt>Contract</dt><dd>{billing.salesContract?.number ?? "—"}</dd>
        <dt>Amount</dt><dd><Money amount={billing.periodicBillingAmount} currency={currency} /></dd>
        <dt>Change from the previous billing</dt>
        <dd>{billing.change ? <>{billing.change.amount}{billing.change.percent ? ` (${billing.change.percent}%)` : ""}</> : "first billing"}</dd>
        <dt>Version</dt><dd>{billing.version}</dd>
        {billing.invoice ? (<><dt>Invoice</dt><dd><Link to={`/invoices?number=${encodeURIComponent(billing.invoice.number)}`}>{billing.invoice.number}</Link></dd></>) : null}
      </dl>

      <Section title="Decision">
        {billing.allowedTransitions.length === 0 ? <p>No change of status is open to you.</p> : (
          <div className="actions" role="group" aria-label="Move this billing to">
            {billing.allowedTransitions.map((t) => (
              <button key={t} type="button" onClick={() => decide(t)}>{t.replace(/_/g, " ")}</button>
            ))}
          </div>
        )}
        <Errors errors={errors} onReload={reload} />
      </Section>

      <Section title="Lines">
        <table>
          <caption className="sr-only">Lines of this billing</caption>
          <thead>
            <tr>
              <th scope="col">Line</th><th scope="col">Kind</th><th scope="col">Days</th><th scope="col">Price source</th>
              <th scope="col">Revenue account</th><th scope="col">Distributions</th><th scope="col">Amount</th><th scope="col">Why this amount</th>
            </tr>
          </thead>
          <tbody>
            {billing.details.map((d) => (
              <tr key={d.id}>
                <td>{d.description}</td>
                <td>{d.kind}</td>
                <td>{d.daysBilled ?? ""}{d.daysInPeriod ? ` / ${d.daysInPeriod}` : ""}</td>
                <td>{d.priceSource?.replace(/_/g, " ") ?? ""}</td>
                <td>{d.revenueAccount ? `${d.revenueAccount.code} ${d.revenueAccount.name}` : ""}</td>
                <td>{d.distributions.map((x) => `${x.revenueAccount?.code ?? "?"}: ${x.amount}`).join(", ")}</td>
                <td>
                  {editable && d.kind !== "TAX" ? (
                    <form className="inline" onSubmit={async (e) => {
                      e.preventDefault();
                      const r = await editLine({ input: { id: d.id, billingAmount: amounts[d.id] ?? d.billingAmount, idempotencyKey: newKey() } });
                      setErrors(r.data?.updateBillingDetail.errors.length ? r.data.updateBillingDetail.errors : null);
                      refetch({ requestPolicy: "network-only" });
                    }}>
                      <label htmlFor={`amount-${d.id}`} className="sr-only">Amount of {d.description}</label>
                      <input id={`amount-${d.id}`} inputMode="decimal" size={10} value={amounts[d.id] ?? d.billingAmount}
                             onChange={(e) => setAmounts({ ...amounts, [d.id]: e.target.value })} />
                      <button type="submit">Save</button>
                    </form>
                  ) : <Money amount={d.billingAmount} />}
                </td>
                <td>
                  {traceText(d.trace) ? <p className="why">{traceText(d.trace)}</p> : null}
                  <details>
                    <summary>Trace</summary>
                    <dl aria-label={`Trace of ${d.description}`}>
                      {traceFacts(d.trace).map(([k, v]) => (
                        <div key={k}><dt>{k}</dt><dd>{v}</dd></div>
                      ))}
                    </dl>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>

      <Section title="Comments">
        {editable ? (
          <form className="stack" onSubmit={async (e) => {
            e.preventDefault();
            const r = await editComments({ input: { id: billing.id, internalComment: comment ?? billing.internalComment, idempotencyKey: newKey() } });
            setErrors(r.data?.updatePeriodicBilling.errors.length ? r.data.updatePeriodicBilling.errors : null);
            refetch({ requestPolicy: "network-only" });
          }}>
            <label htmlFor="internal-comment">Internal comment</label>
            <textarea id="internal-comment" value={comment ?? billing.internalComment} onChange={(e) => setComment(e.target.value)} />
            <button type="submit">Save comment</button>
          </form>
        ) : <p>{billing.internalComment || "No comment."}</p>}
      </Section>

      <Section title="Audit trail">
        {billing.audits.length === 0 ? <p>No changes recorded.</p> : (
          <table>
            <caption className="sr-only">Changes to this billing</caption>
            <thead>
              <tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Before</th><th scope="col">After</th></tr>
            </thead>
            <tbody>
              {billing.audits.map((a) => (
                <tr key={a.id}>
                  <td>{a.at}</td><td>{a.actorLabel}</td><td>{a.operation} {a.entity}.{a.field}</td>
                  <td>{a.before ?? "—"}</td><td>{a.after ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
