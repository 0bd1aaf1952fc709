import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useSubscription } from "urql";
import { graphql } from "../gql";
import type { PostMode, ExportFormat } from "../gql/graphql";
import { downloadWithToken } from "../download";
import { Errors, Money, RequestError, Section, Status, newKey, useCan, useViewer, type PayloadError } from "../ui";

const RunQuery = graphql(`
  query ConsoleRun($id: ID!) {
    billingBatch(id: $id) {
      id
      code
      name
      status
      billGroup
      division
      currency
      invoiceDate
      asOfDate
      postMode
      summary {
        billingCount
        totalAmount
        invoiceCount
        totalAmountDue
        amountPaid
        hiddenBillingCount
        hiddenInvoiceCount
        billingCounts {
          status
          count
        }
      }
      jobs {
        id
        kind
        status
        progressDone
        progressTotal
        error
      }
      findings {
        id
        kind
        severity
        message
        resolvedAt
        resolutionNote
      }
      notifications {
        id
        kind
        message
        status
        resolutionNote
      }
      postRequest {
        mode
        requestedAt
        requestedBy {
          id
          name
        }
      }
      completion {
        ready
        blockers {
          kind
          message
        }
      }
      exports {
        id
        format
        filename
        downloadUrl
      }
    }
  }
`);

const RunEvents = graphql(`
  subscription ConsoleRunEvents($batchId: ID!) {
    billingBatchEvents(batchId: $batchId) {
      cursor
      type
      job {
        id
      }
    }
  }
`);

const JobProgressSubscription = graphql(`
  subscription ConsoleJobProgress($jobId: ID!) {
    jobProgress(jobId: $jobId) {
      type
      payload {
        ... on JobProgress {
          jobKind
          done
          total
          percent
        }
        ... on JobFinished {
          jobKind
          jobStatus
          error
        }
      }
    }
  }
`);


graphql(`
  fragment ConsoleJobPayload on JobPayload {
    job {
      id
      kind
      status
    }
    errors {
      ...ConsoleErrors
    }
  }
`);

const Analyze = graphql(`
  mutation ConsoleAnalyze($input: BillingBatchInput!) {
    analyzeBillingBatch(input: $input) {
      preview {
        billingCount
        amount
        rejectedCount
        hiddenBillingCount
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);
const Process = graphql(`
  mutation ConsoleProcess($input: BillingBatchInput!) {
    processBillingBatch(input: $input) {
      ...ConsoleJobPayload
    }
  }
`);
const Reverse = graphql(`
  mutation ConsoleReverse($input: BillingBatchInput!) {
    reverseBillingBatch(input: $input) {
      ...ConsoleJobPayload
    }
  }
`);
const Post = graphql(`
  mutation ConsolePost($input: PostBillingBatchInput!) {
    postBillingBatch(input: $input) {
      ...ConsolePostPayload
    }
  }
`);
const ConfirmPost = graphql(`
  mutation ConsoleConfirmPost($input: ConfirmPostBillingBatchInput!) {
    confirmPostBillingBatch(input: $input) {
      ...ConsolePostPayload
    }
  }
`);

graphql(`
  fragment ConsolePostPayload on PostBillingBatchPayload {
    job {
      id
      kind
      status
    }
    errors {
      ...ConsoleErrors
    }
    confirmationRequired
  }
`);
const Export = graphql(`
  mutation ConsoleExport($input: ExportBillingBatchInput!) {
    exportBillingBatch(input: $input) {
      export {
        id
        filename
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);
const Complete = graphql(`
  mutation ConsoleComplete($input: CompleteBillingBatchInput!) {
    completeBillingBatch(input: $input) {
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
const ResolveFinding = graphql(`
  mutation ConsoleResolveFinding($input: ResolveFindingInput!) {
    resolveFinding(input: $input) {
      errors {
        ...ConsoleErrors
      }
    }
  }
`);
const ResolveNotification = graphql(`
  mutation ConsoleResolveNotification($input: ResolveNotificationInput!) {
    resolveNotification(input: $input) {
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

type Preview = { billingCount: number; amount: string; rejectedCount: number; hiddenBillingCount: number };

type JobRecord = { id: string; kind: string; status: string; progressDone: number; progressTotal: number; error?: string | null };
type Progress = { done: number; total: number; percent: number; finished?: string; error?: string | null };

/** A job's live progress from the `jobProgress` subscription (it completes after JOB_FINISHED); until its first
 * event, and for a job that had finished already, the figures the run's `jobs` last read. */
function JobProgress({ jobId, kind, record, onFinished }: {
  jobId: string; kind: string; record?: JobRecord; onFinished: () => void;
}) {
  const [live, setLive] = useState<Progress | null>(null);
  const finished = useRef(onFinished);
  finished.current = onFinished;
  useSubscription({ query: JobProgressSubscription, variables: { jobId } }, (_prev, event) => {
    const payload = event.jobProgress.payload;
    if (payload.__typename === "JobProgress") {
      setLive((s) => ({ ...s, done: payload.done, total: payload.total, percent: payload.percent }));
    } else if (payload.__typename === "JobFinished") {
      setLive((s) => ({ done: s?.done ?? 0, total: s?.total ?? 0, percent: payload.jobStatus === "SUCCEEDED" ? 100 : s?.percent ?? 0,
                        finished: payload.jobStatus, error: payload.error }));
      finished.current();
    }
    return event;
  });
  const stored: Progress | null = record ? {
    done: record.progressDone, total: record.progressTotal,
    percent: record.status === "SUCCEEDED" ? 100 : record.progressTotal ? Math.floor((100 * record.progressDone) / record.progressTotal) : 0,
    finished: record.status === "SUCCEEDED" || record.status === "FAILED" ? record.status : undefined, error: record.error,
  } : null;
  const state = (live?.finished ? live : stored?.finished ? stored : live ?? stored) ?? { done: 0, total: 0, percent: 0 };
  const label = `${kind || record?.kind || ""} job`;
  return (
    <div className="job" data-job={jobId}>
      <label htmlFor={`job-${jobId}`}>{label}</label>{" "}
      <progress id={`job-${jobId}`} max={100} value={state.percent} />{" "}
      <span role="status" aria-live="polite">
        {`${label}: ${state.done} / ${state.total} (${state.percent}%)`}
        {state.finished ? ` ${state.finished}` : ""}
        {state.error ? ` — ${state.error}` : ""}
      </span>
    </div>
  );
}

export function RunPage() {
  const { id = "" } = useParams();
  const [{ data, error, fetching }, refetch] = useQuery({ query: RunQuery, variables: { id } });
  const reload = useCallback(() => refetch({ requestPolicy: "network-only" }), [refetch]);
  const [jobs, setJobs] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<readonly PayloadError[] | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [mode, setMode] = useState<PostMode>("SEND");
  const [format, setFormat] = useState<ExportFormat>("INVOICES_CSV");
  const [notes, setNotes] = useState<Record<string, string>>({});
  const canAccess = useCan("BILLING_ACCESS");
  const canSend = useCan("BILLING_SEND_EXPORT");
  const viewer = useViewer();

  // Every event of the run refreshes it; a job's events start its progress bar.
  useSubscription({ query: RunEvents, variables: { batchId: id }, pause: !id }, (_prev, event) => {
    const e = event.billingBatchEvents;
    if (e.job && (e.type === "JOB_QUEUED" || e.type === "JOB_PROGRESS")) {
      setJobs((known) => (known[e.job!.id] ? known : { ...known, [e.job!.id]: "" }));
    }
    reload();
    return event;
  });
  const batch = data?.billingBatch;
  useEffect(() => {
    // Jobs still running when the page opens get their progress bar too.
    if (!batch) return;
    const running = batch.jobs.filter((j) => j.status === "QUEUED" || j.status === "RUNNING");
    if (running.some((j) => !(j.id in jobs))) {
      setJobs((known) => ({ ...known, ...Object.fromEntries(running.map((j) => [j.id, j.kind])) }));
    }
  }, [batch, jobs]);

  const [analyzeState, analyze] = useMutation(Analyze);
  const [processState, process] = useMutation(Process);
  const [reverseState, reverse] = useMutation(Reverse);
  const [postState, post] = useMutation(Post);
  const [confirmState, confirmPost] = useMutation(ConfirmPost);
  const [exportState, exportBatch] = useMutation(Export);
  const [completeState, complete] = useMutation(Complete);
  const [, resolveFinding] = useMutation(ResolveFinding);
  const [, resolveNotification] = useMutation(ResolveNotification);
  const busy = [analyzeState, processState, reverseState, postState, confirmState, exportState, completeState].some((s) => s.fetching);

  if (error) return <RequestError error={error} />;
  if (!batch) return fetching ? <p>Loading…</p> : <p>No such run (or it is not yours to see). <Link to="/">Back to the runs</Link>.</p>;

  const input = () => ({ batchId: batch.id, idempotencyKey: newKey() });
  const act = async (run: () => Promise<{ errors: readonly PayloadError[]; job?: { id: string; kind: string } | null } | undefined>) => {
    setErrors(null);
    const payload = await run();
    if (!payload) return;
    setErrors(payload.errors.length ? payload.errors : null);
    if (payload.job) setJobs((known) => ({ ...known, [payload.job!.id]: payload.job!.kind }));
    reload();
  };
  const s = batch.status;
  const summary = batch.summary;
  const openFindings = batch.findings.filter((f) => !f.resolvedAt);
  const jobKind = (jobId: string) => jobs[jobId] || batch.jobs.find((j) => j.id === jobId)?.kind || "";

  return (
    <>
      <p><Link to="/">← Runs</Link></p>
      <h1>{batch.name} <Status value={s} /></h1>
      <dl className="facts">
        <dt>Code</dt><dd>{batch.code}</dd>
        <dt>Bill group</dt><dd>{batch.billGroup ?? "all"}</dd>
        <dt>Division</dt><dd>{batch.division ?? "all"}</dd>
        <dt>Invoice date</dt><dd>{batch.invoiceDate}</dd>
        <dt>Billed up to</dt><dd>{batch.asOfDate}</dd>
        <dt>Billings</dt><dd>{summary.billingCount}</dd>
        <dt>Total</dt><dd><Money amount={summary.totalAmount} currency={batch.currency} /></dd>
        <dt>Invoices</dt><dd>{summary.invoiceCount}</dd>
        <dt>Amount due</dt><dd><Money amount={summary.totalAmountDue} currency={batch.currency} /></dd>
        <dt>Paid</dt><dd><Money amount={summary.amountPaid} currency={batch.currency} /></dd>
      </dl>
      {summary.billingCounts.length ? (
        <p className="counts">{summary.billingCounts.map((c) => `${c.status.replace(/_/g, " ")}: ${c.count}`).join(" · ")}</p>
      ) : null}
      {summary.hiddenInvoiceCount > 0 || summary.hiddenBillingCount > 0 ? (
        <div className="banner" role="note">
          {summary.hiddenBillingCount} billing{summary.hiddenBillingCount === 1 ? "" : "s"} of this run
          ({summary.hiddenInvoiceCount} invoice{summary.hiddenInvoiceCount === 1 ? "" : "s"}) belong to accounts hidden
          from you. Only a user who can see them all may post or reverse it; you may move your own billings to another run.
        </div>
      ) : null}

      {batch.postRequest ? (
        <div className="banner" role="note" aria-label="Posting request">
          {batch.postRequest.requestedBy?.name ?? "A user"} asked to post this run ({batch.postRequest.mode}) at{" "}
          {batch.postRequest.requestedAt}: its approved total is above an approval rule, so another user must confirm
          the posting.
        </div>
      ) : null}

      <Section title="Actions">
        <div className="actions">
          {canAccess && (s === "NOT_STARTED" || s === "PROCESSED") ? (
            <button type="button" disabled={busy} onClick={() => act(async () => {
              const r = await analyze({ input: input() });
              const p = r.data?.analyzeBillingBatch;
              if (p?.preview) setPreview(p.preview);
              return p;
            })}>Analyze</button>
          ) : null}
          {canAccess && s === "NOT_STARTED" ? (
            <button type="button" disabled={busy} onClick={() => act(async () => (await process({ input: input() })).data?.processBillingBatch)}>
              Process
            </button>
          ) : null}
          {canAccess && (s === "PROCESSED" || s === "FAILED") && summary.hiddenBillingCount === 0 ? (
            <button type="button" disabled={busy} onClick={() => act(async () => (await reverse({ input: input() })).data?.reverseBillingBatch)}>
              Reverse
            </button>
          ) : null}
          {canSend && s === "PROCESSED" && batch.postRequest && summary.hiddenInvoiceCount === 0
            && batch.postRequest.requestedBy?.id !== viewer.id ? (
            <button type="button" disabled={busy} onClick={() => act(async () => (await confirmPost({ input: input() })).data?.confirmPostBillingBatch)}>
              Confirm posting
            </button>
          ) : null}
          {canSend && s === "PROCESSED" && !batch.postRequest && summary.hiddenInvoiceCount === 0 ? (
            <span className="inline">
              <label htmlFor="post-mode">Posting mode</label>
              <select id="post-mode" value={mode} onChange={(e) => setMode(e.target.value as PostMode)}>
                <option value="SEND">Send invoices by e-mail</option>
                <option value="EXPORT">Export for accounting</option>
              </select>
              <button type="button" disabled={busy} onClick={() => act(async () => (await post({ input: { ...input(), mode } })).data?.postBillingBatch)}>
                Post
              </button>
            </span>
          ) : null}
          {canSend && (s === "POSTED" || s === "COMPLETED") ? (
            <span className="inline">
              <label htmlFor="export-format">Export format</label>
              <select id="export-format" value={format} onChange={(e) => setFormat(e.target.value as ExportFormat)}>
                <option value="INVOICES_CSV">Invoices (CSV)</option>
                <option value="JOURNAL_CSV">Journal (CSV)</option>
              </select>
              <button type="button" disabled={busy} onClick={() => act(async () => (await exportBatch({ input: { ...input(), format } })).data?.exportBillingBatch)}>
                Export
              </button>
            </span>
          ) : null}
          {canSend && s === "POSTED" ? (
            <button type="button" disabled={busy} onClick={() => act(async () => (await complete({ input: input() })).data?.completeBillingBatch)}>
              Complete
            </button>
          ) : null}
          {batch.summary.billingCount > 0 || s !== "NOT_STARTED" ? (
            <Link to={`/runs/${encodeURIComponent(batch.id)}/billings`} className="button">Review billings</Link>
          ) : null}
          <Link to={`/invoices?batch=${encodeURIComponent(batch.id)}`} className="button">Invoices</Link>
        </div>
        <Errors errors={errors} onReload={reload} />
        {Object.keys(jobs).map((jobId) => (
          <JobProgress key={jobId} jobId={jobId} kind={jobKind(jobId)} record={batch.jobs.find((j) => j.id === jobId)} onFinished={reload} />
        ))}
      </Section>

      {preview ? (
        <Section title="Preview">
          <p role="status">
            Processing would create {preview.billingCount} billing{preview.billingCount === 1 ? "" : "s"} for{" "}
            <Money amount={preview.amount} currency={batch.currency} />
            {preview.hiddenBillingCount ? ` (${preview.hiddenBillingCount} of accounts hidden from you)` : ""}.
          </p>
        </Section>
      ) : null}

      <Section title="Findings">
        {batch.findings.length === 0 ? <p>No findings{s === "NOT_STARTED" ? " yet: analyze the run" : ""}.</p> : (
          <ul className="findings">
            {batch.findings.map((f) => (
              <li key={f.id}>
                <Status value={f.severity} /> {f.message}
                {f.resolvedAt ? <em> — resolved: {f.resolutionNote}</em> : canAccess ? (
                  <form className="inline" onSubmit={async (e) => {
                    e.preventDefault();
                    const r = await resolveFinding({ input: { id: f.id, note: notes[f.id] || "Checked", idempotencyKey: newKey() } });
                    setErrors(r.data?.resolveFinding.errors.length ? r.data.resolveFinding.errors : null);
                    reload();
                  }}>
                    <label htmlFor={`finding-${f.id}`}>Resolution note</label>
                    <input id={`finding-${f.id}`} value={notes[f.id] ?? ""} onChange={(e) => setNotes({ ...notes, [f.id]: e.target.value })} />
                    <button type="submit">Resolve</button>
                  </form>
                ) : null}
              </li>
            ))}
          </ul>
        )}
        {openFindings.some((f) => f.severity === "ERROR") ? <p>Errors block processing until they are resolved.</p> : null}
      </Section>

      <Section title="Notifications">
        {batch.notifications.length === 0 ? <p>No notifications.</p> : (
          <ul className="notifications">
            {batch.notifications.map((n) => (
              <li key={n.id}>
                <Status value={n.status} /> {n.message}
                {n.status === "RESOLVED" ? <em> — {n.resolutionNote}</em> : canAccess ? (
                  <form className="inline" onSubmit={async (e) => {
                    e.preventDefault();
                    const r = await resolveNotification({ input: { id: n.id, note: notes[n.id] || "Handled", idempotencyKey: newKey() } });
                    setErrors(r.data?.resolveNotification.errors.length ? r.data.resolveNotification.errors : null);
                    reload();
                  }}>
                    <label htmlFor={`notification-${n.id}`}>Resolution note</label>
                    <input id={`notification-${n.id}`} value={notes[n.id] ?? ""} onChange={(e) => setNotes({ ...notes, [n.id]: e.target.value })} />
                    <button type="submit">Resolve</button>
                  </form>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </Section>

      {s === "POSTED" || s === "COMPLETED" ? (
        <Section title="Completion">
          {s === "COMPLETED" ? <p>This run is complete.</p> : batch.completion.ready ? <p>Ready to complete.</p> : (
            <>
              <p>Not ready to complete:</p>
              <ul className="blockers">
                {batch.completion.blockers.map((b, i) => <li key={i}><strong>{b.kind}</strong>: {b.message}</li>)}
              </ul>
            </>
          )}
        </Section>
      ) : null}

      {batch.exports.length ? (
        <Section title="Exports">
          <ul>
            {batch.exports.map((x) => (
              <li key={x.id}>
                <button type="button" className="link" onClick={() => downloadWithToken(x.downloadUrl, x.filename)}>
                  Download {x.filename}
                </button>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
    </>
  );
}
