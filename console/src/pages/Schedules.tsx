// Billing schedules: the list with the next run and the batches each created; create, pause/resume and delete for
// BILLING_SEND_EXPORT (every billing user may read them).
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { useMutation, useQuery } from "urql";
import { graphql } from "../gql";
import type { AutoAdvance, Cadence } from "../gql/graphql";
import { Errors, RequestError, Section, Status, newKey, useAction, useCan } from "../ui";

const SchedulesQuery = graphql(`
  query ConsoleSchedules($first: Int, $after: String) {
    billingSchedules(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        name
        billGroup
        division
        currency
        cadence
        day
        autoAdvance
        paused
        nextRunOn
        nextRunAt
        lastRunOn
        lastError
        runs(first: 3) {
          totalCount
          nodes {
            id
            name
            status
          }
        }
      }
    }
  }
`);

graphql(`
  fragment ConsoleSchedulePayload on BillingSchedulePayload {
    billingSchedule {
      id
      paused
      nextRunOn
      nextRunAt
    }
    errors {
      ...ConsoleErrors
    }
  }
`);

const CreateSchedule = graphql(`
  mutation ConsoleCreateSchedule($input: CreateBillingScheduleInput!) {
    createBillingSchedule(input: $input) {
      ...ConsoleSchedulePayload
    }
  }
`);
const PauseSchedule = graphql(`
  mutation ConsolePauseSchedule($input: BillingScheduleInput!) {
    pauseBillingSchedule(input: $input) {
      ...ConsoleSchedulePayload
    }
  }
`);
const ResumeSchedule = graphql(`
  mutation ConsoleResumeSchedule($input: BillingScheduleInput!) {
    resumeBillingSchedule(input: $input) {
      ...ConsoleSchedulePayload
    }
  }
`);
const DeleteSchedule = graphql(`
  mutation ConsoleDeleteSchedule($input: BillingScheduleInput!) {
    deleteBillingSchedule(input: $input) {
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

const EMPTY = { name: "", cadence: "MONTHLY" as Cadence, day: "1", billGroup: "", division: "", autoAdvance: "CREATE" as AutoAdvance, startsOn: "" };

export function Schedules() {
  const canSend = useCan("BILLING_SEND_EXPORT");
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, error, fetching }, refetch] = useQuery({ query: SchedulesQuery, variables: { first: 50, after } });
  const reload = () => refetch({ requestPolicy: "network-only" });
  const { errors, act } = useAction(reload);
  const [fields, setFields] = useState(EMPTY);
  const [key, setKey] = useState(newKey);
  const [created, create] = useMutation(CreateSchedule);
  const [pauseState, pause] = useMutation(PauseSchedule);
  const [resumeState, resume] = useMutation(ResumeSchedule);
  const [deleteState, remove] = useMutation(DeleteSchedule);
  const busy = pauseState.fetching || resumeState.fetching || deleteState.fetching;
  const set = (name: keyof typeof fields) => (e: { target: { value: string } }) => setFields({ ...fields, [name]: e.target.value });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const day = Number(fields.day);
    const { data: answer } = await create({
      input: {
        idempotencyKey: key, name: fields.name, cadence: fields.cadence, day: Number.isInteger(day) ? day : 0,
        billGroup: fields.billGroup || null, division: fields.division || null, autoAdvance: fields.autoAdvance,
        startsOn: fields.startsOn || null,
      },
    });
    if (answer) setKey(newKey());  // a key replays its first answer: a corrected retry is a new request
    if (answer?.createBillingSchedule.billingSchedule) {
      setFields(EMPTY);
      reload();
    }
  };
  const list = data?.billingSchedules;
  return (
    <>
      <h1>Billing schedules</h1>
      <RequestError error={error ?? pauseState.error ?? resumeState.error ?? deleteState.error} />
      <Errors errors={errors} />
      {list ? (
        <>
          <p role="status">{list.totalCount} schedule{list.totalCount === 1 ? "" : "s"}</p>
          <table>
            <caption className="sr-only">Billing schedules</caption>
            <thead>
              <tr>
                <th scope="col">Name</th><th scope="col">Cadence</th><th scope="col">Bills</th>
                <th scope="col">Goes as far as</th><th scope="col">Next run</th><th scope="col">Last run</th>
                <th scope="col">Runs</th>{canSend ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.nodes.map((s) => (
                <tr key={s.id}>
                  <td>{s.name}</td>
                  <td>{s.cadence} on day {s.day}</td>
                  <td>{s.billGroup ?? "every group"} · {s.division ?? "every division"} · {s.currency}</td>
                  <td>{s.autoAdvance}</td>
                  <td>{s.paused ? <Status value="PAUSED" /> : <>{s.nextRunOn} <small>({s.nextRunAt})</small></>}</td>
                  <td>{s.lastRunOn ?? "never"}{s.lastError ? <> — <span className="error-text">{s.lastError}</span></> : null}</td>
                  <td>
                    {s.runs.totalCount} run{s.runs.totalCount === 1 ? "" : "s"}
                    {s.runs.nodes.map((r) => (
                      <span key={r.id}><br /><Link to={`/runs/${encodeURIComponent(r.id)}`}>{r.name}</Link> <Status value={r.status} /></span>
                    ))}
                  </td>
                  {canSend ? (
                    <td className="inline">
                      {s.paused ? (
                        <button type="button" disabled={busy} aria-label={`Resume ${s.name}`}
                                onClick={() => act(async () => (await resume({ input: { id: s.id, idempotencyKey: newKey() } })).data?.resumeBillingSchedule)}>Resume</button>
                      ) : (
                        <button type="button" disabled={busy} aria-label={`Pause ${s.name}`}
                                onClick={() => act(async () => (await pause({ input: { id: s.id, idempotencyKey: newKey() } })).data?.pauseBillingSchedule)}>Pause</button>
                      )}
                      <button type="button" disabled={busy} aria-label={`Delete ${s.name}`}
                              onClick={() => act(async () => (await remove({ input: { id: s.id, idempotencyKey: newKey() } })).data?.deleteBillingSchedule)}>Delete</button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
          {list.pageInfo.hasNextPage ? (
            <button type="button" onClick={() => setAfter(list.pageInfo.endCursor ?? null)}>Next page</button>
          ) : null}
        </>
      ) : fetching ? <p>Loading…</p> : null}
      {canSend ? (
        <Section title="New schedule">
          <form onSubmit={submit} aria-label="New schedule" className="stack">
            <label htmlFor="sc-name">Name</label>
            <input id="sc-name" required value={fields.name} onChange={set("name")} />
            <label htmlFor="sc-cadence">Cadence</label>
            <select id="sc-cadence" value={fields.cadence} onChange={set("cadence")}>
              <option value="MONTHLY">Monthly</option><option value="QUARTERLY">Quarterly</option><option value="WEEKLY">Weekly</option>
            </select>
            <label htmlFor="sc-day">Day (of the month 1–28, or ISO weekday 1–7 for weekly)</label>
            <input id="sc-day" type="number" required value={fields.day} onChange={set("day")} />
            <label htmlFor="sc-bill-group">Bill group (empty: every group)</label>
            <input id="sc-bill-group" value={fields.billGroup} onChange={set("billGroup")} />
            <label htmlFor="sc-division">Division (empty: every division)</label>
            <input id="sc-division" value={fields.division} onChange={set("division")} />
            <label htmlFor="sc-advance">Its runs go as far as</label>
            <select id="sc-advance" value={fields.autoAdvance} onChange={set("autoAdvance")}>
              <option value="CREATE">Created</option><option value="ANALYZE">Analyzed</option><option value="PROCESS">Processed</option>
            </select>
            <label htmlFor="sc-starts">Starts on (empty: today)</label>
            <input id="sc-starts" type="date" value={fields.startsOn} onChange={set("startsOn")} />
            <button type="submit" disabled={created.fetching}>Create schedule</button>
          </form>
          <Errors errors={created.data?.createBillingSchedule.errors} />
          <RequestError error={created.error} />
        </Section>
      ) : null}
    </>
  );
}
