import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { useMutation } from "urql";
import { graphql } from "../gql";
import { Errors, RequestError, newKey } from "../ui";

const CreateRunMutation = graphql(`
  mutation ConsoleCreateRun($input: CreateBillingBatchInput!) {
    createBillingBatch(input: $input) {
      billingBatch {
        id
        status
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

export function CreateRun() {
  const [fields, setFields] = useState({ name: "", billGroup: "", division: "", invoiceDate: "", asOfDate: "" });
  const [key, setKey] = useState(newKey);
  const [result, create] = useMutation(CreateRunMutation);
  const navigate = useNavigate();
  const set = (name: keyof typeof fields) => (e: { target: { value: string } }) =>
    setFields({ ...fields, [name]: e.target.value });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { data } = await create({
      input: {
        idempotencyKey: key,
        name: fields.name,
        billGroup: fields.billGroup || null,
        division: fields.division || null,
        invoiceDate: fields.invoiceDate || null,
        asOfDate: fields.asOfDate || null,
      },
    });
    if (data) setKey(newKey());  // a key replays its first answer: a corrected retry is a new request
    const batch = data?.createBillingBatch.billingBatch;
    if (batch) navigate(`/runs/${encodeURIComponent(batch.id)}`);
  };
  return (
    <>
      <h1>Create a run</h1>
      <form onSubmit={submit} aria-label="Create a run" className="stack">
        <label htmlFor="run-name">Name</label>
        <input id="run-name" required value={fields.name} onChange={set("name")} />
        <label htmlFor="run-bill-group">Bill group (empty: every group)</label>
        <input id="run-bill-group" value={fields.billGroup} onChange={set("billGroup")} />
        <label htmlFor="run-division">Division (empty: every division)</label>
        <input id="run-division" value={fields.division} onChange={set("division")} />
        <label htmlFor="run-invoice-date">Invoice date (empty: today)</label>
        <input id="run-invoice-date" type="date" value={fields.invoiceDate} onChange={set("invoiceDate")} />
        <label htmlFor="run-as-of-date">Bill up to (as-of date; empty: the invoice date)</label>
        <input id="run-as-of-date" type="date" value={fields.asOfDate} onChange={set("asOfDate")} />
        <button type="submit" disabled={result.fetching}>Create</button>
      </form>
      <Errors errors={result.data?.createBillingBatch.errors} />
      <RequestError error={result.error} />
    </>
  );
}
