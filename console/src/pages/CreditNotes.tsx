// Credit notes: the list (creditNotes), and crediting one posted invoice (whole or chosen lines) as a draft, then
// issuing or voiding it. Offered only to BILLING_SEND_EXPORT; the server refuses anyway.
import { useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useMutation, useQuery } from "urql";
import { downloadWithToken } from "../download";
import { graphql } from "../gql";
import type { CreditNoteReason } from "../gql/graphql";
import { Errors, Money, RequestError, Section, Status, newKey, useAction, useCan } from "../ui";

export const REASONS: CreditNoteReason[] = ["DUPLICATED_CHARGE", "PRODUCT_UNSATISFACTORY", "ORDER_CHANGE",
  "ORDER_CANCELLATION", "FRAUDULENT_CHARGE", "OTHER"];

graphql(`
  fragment ConsoleCreditNote on CreditNote {
    id
    number
    status
    reason
    description
    currency
    amount
    taxAmount
    creditAmount
    creditStatus
    refundAmount
    refundStatus
    refundError
    downloadUrl
    invoice {
      id
      number
    }
  }
`);

const CreditNotesQuery = graphql(`
  query ConsoleCreditNotes($filter: CreditNoteFilter, $first: Int, $after: String) {
    creditNotes(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        ...ConsoleCreditNote
      }
    }
  }
`);

const InvoiceToCredit = graphql(`
  query ConsoleInvoiceToCredit($id: ID!) {
    invoice(id: $id) {
      id
      number
      currency
      amount
      balance
      billToName
      billing {
        id
        details {
          id
          kind
          description
          billingAmount
        }
      }
      creditNotes {
        ...ConsoleCreditNote
      }
    }
  }
`);

const CreateCreditNote = graphql(`
  mutation ConsoleCreateCreditNote($input: CreateCreditNoteInput!) {
    createCreditNote(input: $input) {
      creditNote {
        ...ConsoleCreditNote
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

const IssueCreditNote = graphql(`
  mutation ConsoleIssueCreditNote($input: CreditNoteIdInput!) {
    issueCreditNote(input: $input) {
      creditNote {
        ...ConsoleCreditNote
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

const VoidCreditNote = graphql(`
  mutation ConsoleVoidCreditNote($input: CreditNoteIdInput!) {
    voidCreditNote(input: $input) {
      creditNote {
        ...ConsoleCreditNote
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

type Note = {
  id: string; number?: string | null; status: string; reason: string; description: string; currency: string;
  amount: string; taxAmount: string; creditAmount: string; creditStatus?: string | null; refundAmount: string;
  refundStatus?: string | null; refundError?: string | null; downloadUrl?: string | null;
  invoice?: { id: string; number: string } | null;
};

/** The credit notes table, each draft with Issue and Void (for BILLING_SEND_EXPORT). */
function CreditNoteTable({ notes, caption, onChanged }: { notes: readonly Note[]; caption: string; onChanged: () => void }) {
  const canSend = useCan("BILLING_SEND_EXPORT");
  const { errors, act } = useAction(onChanged);
  const [issueState, issue] = useMutation(IssueCreditNote);
  const [voidState, voidNote] = useMutation(VoidCreditNote);
  const busy = issueState.fetching || voidState.fetching;
  return (
    <>
      <Errors errors={errors} />
      <RequestError error={issueState.error ?? voidState.error} />
      <table>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Number</th><th scope="col">Invoice</th><th scope="col">Status</th><th scope="col">Reason</th>
            <th scope="col">Amount</th><th scope="col">Tax</th><th scope="col">Account credit</th>
            <th scope="col">Refund</th><th scope="col">PDF / actions</th>
          </tr>
        </thead>
        <tbody>
          {notes.map((n) => (
            <tr key={n.id}>
              <td className="cn-number">{n.number ?? "(draft)"}</td>
              <td>{n.invoice ? <Link to={`/invoices/${encodeURIComponent(n.invoice.id)}/credit`}>{n.invoice.number}</Link> : null}</td>
              <td><Status value={n.status} /></td>
              <td>{n.reason.replace(/_/g, " ")}{n.description ? <><br /><em>{n.description}</em></> : null}</td>
              <td><Money amount={n.amount} currency={n.currency} /></td>
              <td><Money amount={n.taxAmount} /></td>
              <td><Money amount={n.creditAmount} />{n.creditStatus ? <> <Status value={n.creditStatus} /></> : null}</td>
              <td>
                <Money amount={n.refundAmount} />{n.refundStatus ? <> <Status value={n.refundStatus} /></> : null}
                {n.refundError ? <> — {n.refundError}</> : null}
              </td>
              <td className="inline">
                {n.downloadUrl ? (
                  <button type="button" className="link" aria-label={`PDF of credit note ${n.number}`}
                          onClick={() => downloadWithToken(n.downloadUrl!, `${n.number}.pdf`)}>PDF</button>
                ) : null}
                {canSend && n.status === "DRAFT" ? (
                  <>
                    <button type="button" disabled={busy}
                            onClick={() => act(async () => (await issue({ input: { id: n.id, idempotencyKey: newKey() } })).data?.issueCreditNote)}>
                      Issue
                    </button>
                    <button type="button" disabled={busy}
                            onClick={() => act(async () => (await voidNote({ input: { id: n.id, idempotencyKey: newKey() } })).data?.voidCreditNote)}>
                      Void
                    </button>
                  </>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function CreditNotes() {
  const [params] = useSearchParams();
  const invoiceId = params.get("invoice");
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, error, fetching }, refetch] = useQuery({
    query: CreditNotesQuery,
    variables: { filter: { invoiceId: invoiceId || null }, first: 50, after },
  });
  const list = data?.creditNotes;
  return (
    <>
      <h1>Credit notes</h1>
      <RequestError error={error} />
      {list ? (
        <>
          <p role="status">{list.totalCount} credit note{list.totalCount === 1 ? "" : "s"}</p>
          <CreditNoteTable notes={list.nodes as Note[]} caption="Credit notes"
                           onChanged={() => refetch({ requestPolicy: "network-only" })} />
          {list.pageInfo.hasNextPage ? (
            <button type="button" onClick={() => setAfter(list.pageInfo.endCursor ?? null)}>Next page</button>
          ) : null}
        </>
      ) : fetching ? <p>Loading…</p> : null}
    </>
  );
}

/** Credit a posted invoice: the whole of it, or chosen lines with an amount each (empty: all that is open). */
export function CreditInvoice() {
  const { id = "" } = useParams();
  const canSend = useCan("BILLING_SEND_EXPORT");
  const [{ data, error, fetching }, refetch] = useQuery({ query: InvoiceToCredit, variables: { id } });
  const [whole, setWhole] = useState(true);
  const [chosen, setChosen] = useState<Record<string, { on: boolean; amount: string }>>({});
  const [reason, setReason] = useState<CreditNoteReason>("OTHER");
  const [description, setDescription] = useState("");
  const [key, setKey] = useState(newKey);
  const [result, create] = useMutation(CreateCreditNote);
  const invoice = data?.invoice;
  if (error) return <RequestError error={error} />;
  if (!invoice) return fetching ? <p>Loading…</p> : <p>No such invoice (or it is not yours to see). <Link to="/invoices">Invoices</Link>.</p>;
  const lines = invoice.billing?.details.filter((d) => d.kind !== "TAX") ?? [];
  const pick = (lineId: string, change: Partial<{ on: boolean; amount: string }>) =>
    setChosen({ ...chosen, [lineId]: { ...(chosen[lineId] ?? { on: false, amount: "" }), ...change } });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const picked = Object.entries(chosen).filter(([, c]) => c.on);
    const { data: answer } = await create({
      input: {
        idempotencyKey: key,
        invoiceId: invoice.id,
        wholeInvoice: whole ? true : null,
        lines: whole ? null : picked.map(([lineId, c]) => ({ invoiceLineId: lineId, amount: c.amount.trim() || null })),
        reason,
        description: description || null,
      },
    });
    if (answer) setKey(newKey());  // a key replays its first answer: a corrected retry is a new request
    if (answer?.createCreditNote.creditNote) {
      setChosen({});
      refetch({ requestPolicy: "network-only" });
    }
  };
  return (
    <>
      <p><Link to="/invoices">← Invoices</Link></p>
      <h1>Credit invoice {invoice.number}</h1>
      <dl className="facts">
        <dt>Bill to</dt><dd>{invoice.billToName}</dd>
        <dt>Amount</dt><dd><Money amount={invoice.amount} currency={invoice.currency} /></dd>
        <dt>Open balance</dt><dd><Money amount={invoice.balance} currency={invoice.currency} /></dd>
      </dl>
      {canSend ? (
        <Section title="New credit note">
          <form onSubmit={submit} aria-label="New credit note" className="stack">
            <fieldset>
              <legend>What to credit</legend>
              <label><input type="radio" name="cn-scope" checked={whole} onChange={() => setWhole(true)} /> The whole invoice</label>{" "}
              <label><input type="radio" name="cn-scope" checked={!whole} onChange={() => setWhole(false)} /> Chosen lines</label>
            </fieldset>
            {!whole ? (
              <table>
                <caption>Lines to credit</caption>
                <thead><tr><th scope="col">Credit</th><th scope="col">Line</th><th scope="col">Amount</th><th scope="col">Amount to credit</th></tr></thead>
                <tbody>
                  {lines.map((d) => (
                    <tr key={d.id}>
                      <td><input type="checkbox" id={`cn-line-${d.id}`} checked={chosen[d.id]?.on ?? false}
                                 onChange={(e) => pick(d.id, { on: e.target.checked })} /></td>
                      <td><label htmlFor={`cn-line-${d.id}`}>{d.description}</label></td>
                      <td><Money amount={d.billingAmount} /></td>
                      <td><input aria-label={`Amount to credit of ${d.description}`} inputMode="decimal"
                                 placeholder="all that is open" value={chosen[d.id]?.amount ?? ""}
                                 onChange={(e) => pick(d.id, { amount: e.target.value, on: true })} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
            <label htmlFor="cn-reason">Reason</label>
            <select id="cn-reason" value={reason} onChange={(e) => setReason(e.target.value as CreditNoteReason)}>
              {REASONS.map((r) => <option key={r} value={r}>{r.replace(/_/g, " ")}</option>)}
            </select>
            <label htmlFor="cn-description">Description (printed on the credit note)</label>
            <input id="cn-description" value={description} onChange={(e) => setDescription(e.target.value)} />
            <button type="submit" disabled={result.fetching}>Create draft</button>
          </form>
          <Errors errors={result.data?.createCreditNote.errors} />
          <RequestError error={result.error} />
        </Section>
      ) : null}
      <Section title="Credit notes of this invoice" id="invoice-credit-notes">
        {invoice.creditNotes.length ? (
          <CreditNoteTable notes={invoice.creditNotes as Note[]} caption={`Credit notes of invoice ${invoice.number}`}
                           onChanged={() => refetch({ requestPolicy: "network-only" })} />
        ) : <p>None yet.</p>}
      </Section>
    </>
  );
}
