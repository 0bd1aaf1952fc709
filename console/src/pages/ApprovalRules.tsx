// Four-eyes approval rules (ADMIN): list, create, change a threshold, delete.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import type { ApprovalRuleKind } from "../gql/graphql";
import { Errors, RequestError, Section, newKey, useAction, useCan } from "../ui";

const RulesQuery = graphql(`
  query ConsoleApprovalRules($first: Int) {
    approvalRules(first: $first) {
      totalCount
      nodes {
        id
        kind
        threshold
        currency
        createdAt
        createdBy {
          id
          name
        }
      }
    }
  }
`);

graphql(`
  fragment ConsoleRulePayload on ApprovalRulePayload {
    approvalRule {
      id
      threshold
    }
    errors {
      ...ConsoleErrors
    }
  }
`);

const CreateRule = graphql(`
  mutation ConsoleCreateApprovalRule($input: CreateApprovalRuleInput!) {
    createApprovalRule(input: $input) {
      ...ConsoleRulePayload
    }
  }
`);
const UpdateRule = graphql(`
  mutation ConsoleUpdateApprovalRule($input: UpdateApprovalRuleInput!) {
    updateApprovalRule(input: $input) {
      ...ConsoleRulePayload
    }
  }
`);
const DeleteRule = graphql(`
  mutation ConsoleDeleteApprovalRule($input: DeleteApprovalRuleInput!) {
    deleteApprovalRule(input: $input) {
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

const KINDS: Record<ApprovalRuleKind, string> = {
  BILLING_AMOUNT_ABOVE: "A billing's amount above",
  BATCH_TOTAL_ABOVE: "A run's approved total above (posting needs a second user)",
  CHANGE_FROM_PREVIOUS_ABOVE_PERCENT: "The change from the previous billing above (percent)",
};

export function ApprovalRules() {
  const isAdmin = useCan("ADMIN");
  const [{ data, error, fetching }, refetch] = useQuery({ query: RulesQuery, variables: { first: 100 }, pause: !isAdmin });
  const reload = () => refetch({ requestPolicy: "network-only" });
  const { errors, act } = useAction(reload);
  const [kind, setKind] = useState<ApprovalRuleKind>("BATCH_TOTAL_ABOVE");
  const [threshold, setThreshold] = useState("");
  const [currency, setCurrency] = useState("USD");
  const [key, setKey] = useState(newKey);
  const [thresholds, setThresholds] = useState<Record<string, string>>({});
  const [created, create] = useMutation(CreateRule);
  const [updateState, update] = useMutation(UpdateRule);
  const [deleteState, remove] = useMutation(DeleteRule);
  if (!isAdmin) return <p>Approval rules are managed by administrators.</p>;
  const percent = kind === "CHANGE_FROM_PREVIOUS_ABOVE_PERCENT";
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { data: answer } = await create({
      input: { idempotencyKey: key, kind, threshold: threshold.trim(), currency: percent ? null : currency.trim() || null },
    });
    if (answer) setKey(newKey());  // a key replays its first answer: a corrected retry is a new request
    if (answer?.createApprovalRule.approvalRule) {
      setThreshold("");
      reload();
    }
  };
  const busy = updateState.fetching || deleteState.fetching;
  const list = data?.approvalRules;
  return (
    <>
      <h1>Approval rules</h1>
      <RequestError error={error ?? updateState.error ?? deleteState.error} />
      <Errors errors={errors} />
      {list ? (
        <>
          <p role="status">{list.totalCount} rule{list.totalCount === 1 ? "" : "s"}</p>
          <table>
            <caption className="sr-only">Approval rules</caption>
            <thead>
              <tr><th scope="col">Rule</th><th scope="col">Threshold</th><th scope="col">Created</th><th scope="col">Change</th></tr>
            </thead>
            <tbody>
              {list.nodes.map((r) => (
                <tr key={r.id}>
                  <td>{KINDS[r.kind]}</td>
                  <td className="rule-threshold">{r.threshold}{r.currency ? ` ${r.currency}` : " %"}</td>
                  <td>{r.createdAt}{r.createdBy ? ` by ${r.createdBy.name}` : ""}</td>
                  <td className="inline">
                    <label htmlFor={`rule-${r.id}`} className="sr-only">New threshold of {KINDS[r.kind]}</label>
                    <input id={`rule-${r.id}`} inputMode="decimal" size={10} value={thresholds[r.id] ?? r.threshold}
                           onChange={(e) => setThresholds({ ...thresholds, [r.id]: e.target.value })} />
                    <button type="button" disabled={busy}
                            onClick={() => act(async () => (await update({ input: { id: r.id, threshold: (thresholds[r.id] ?? r.threshold).trim(), idempotencyKey: newKey() } })).data?.updateApprovalRule)}>
                      Save threshold
                    </button>
                    <button type="button" disabled={busy}
                            onClick={() => act(async () => (await remove({ input: { id: r.id, idempotencyKey: newKey() } })).data?.deleteApprovalRule)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : fetching ? <p>Loading…</p> : null}
      <Section title="New rule">
        <form onSubmit={submit} aria-label="New rule" className="stack">
          <label htmlFor="rule-kind">Applies when</label>
          <select id="rule-kind" value={kind} onChange={(e) => setKind(e.target.value as ApprovalRuleKind)}>
            {(Object.keys(KINDS) as ApprovalRuleKind[]).map((k) => <option key={k} value={k}>{KINDS[k]}</option>)}
          </select>
          <label htmlFor="rule-threshold">Threshold{percent ? " (percent)" : ""}</label>
          <input id="rule-threshold" required inputMode="decimal" value={threshold} onChange={(e) => setThreshold(e.target.value)} />
          {!percent ? (
            <>
              <label htmlFor="rule-currency">Currency</label>
              <input id="rule-currency" required value={currency} onChange={(e) => setCurrency(e.target.value)} />
            </>
          ) : null}
          <button type="submit" disabled={created.fetching}>Create rule</button>
        </form>
        <Errors errors={created.data?.createApprovalRule.errors} />
        <RequestError error={created.error} />
      </Section>
    </>
  );
}
