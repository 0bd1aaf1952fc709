import { Link, useSearchParams } from "react-router";
import { useQuery } from "urql";
import { downloadWithToken } from "../download";
import { graphql } from "../gql";
import { Money, RequestError, Status, useCan } from "../ui";

const InvoicesQuery = graphql(`
  query ConsoleInvoices($filter: InvoiceFilter, $first: Int, $after: String) {
    invoices(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        number
        invoiceDate
        dueDate
        currency
        billToName
        amount
        taxAmount
        amountPaid
        amountDue
        status
        pdfUrl
        batch {
          id
          name
        }
      }
    }
  }
`);

export function Invoices() {
  const [params] = useSearchParams();
  const batchId = params.get("batch");
  const [{ data, error, fetching }] = useQuery({
    query: InvoicesQuery,
    variables: { filter: { batchId: batchId || null }, first: 50 },
  });
  const invoices = data?.invoices;
  const canSend = useCan("BILLING_SEND_EXPORT");
  return (
    <>
      <h1>Invoices</h1>
      {batchId ? <p>Of one run. <Link to="/invoices">Every invoice</Link></p> : null}
      <RequestError error={error} />
      {invoices ? (
        <>
          <p role="status">{invoices.totalCount} invoice{invoices.totalCount === 1 ? "" : "s"}</p>
          <table>
            <caption className="sr-only">Invoices</caption>
            <thead>
              <tr>
                <th scope="col">Number</th><th scope="col">Bill to</th><th scope="col">Run</th><th scope="col">Date</th>
                <th scope="col">Due</th><th scope="col">Amount</th><th scope="col">Tax</th><th scope="col">Paid</th>
                <th scope="col">Due amount</th><th scope="col">Status</th><th scope="col">PDF</th>
                {canSend ? <th scope="col">Credit</th> : null}
              </tr>
            </thead>
            <tbody>
              {invoices.nodes.map((inv) => (
                <tr key={inv.id}>
                  <td>{inv.number}</td>
                  <td>{inv.billToName}</td>
                  <td><Link to={`/runs/${encodeURIComponent(inv.batch.id)}`}>{inv.batch.name}</Link></td>
                  <td>{inv.invoiceDate}</td>
                  <td>{inv.dueDate}</td>
                  <td><Money amount={inv.amount} currency={inv.currency} /></td>
                  <td><Money amount={inv.taxAmount} /></td>
                  <td><Money amount={inv.amountPaid} /></td>
                  <td><Money amount={inv.amountDue} /></td>
                  <td><Status value={inv.status} /></td>
                  <td>
                    <button type="button" className="link" aria-label={`PDF of invoice ${inv.number}`}
                            onClick={() => downloadWithToken(inv.pdfUrl, `${inv.number}.pdf`)}>PDF</button>
                  </td>
                  {canSend ? (
                    <td>
                      <Link to={`/invoices/${encodeURIComponent(inv.id)}/credit`} aria-label={`Credit invoice ${inv.number}`}>Credit</Link>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : fetching ? <p>Loading…</p> : null}
    </>
  );
}
