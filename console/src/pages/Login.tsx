import { useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { graphql } from "../gql";
import { saveSession, takeEndReason } from "../session";
import { Errors, RequestError } from "../ui";

const LoginMutation = graphql(`
  mutation ConsoleLogin($input: LoginInput!) {
    login(input: $input) {
      token
      expiresAt
      retryAt
      user {
        id
        email
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);

export function Login() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [notice] = useState(() => takeEndReason());
  const [result, login] = useMutation(LoginMutation);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { data } = await login({ input: { email, password } });
    const payload = data?.login;
    if (payload?.token) {
      saveSession({ token: payload.token, expiresAt: payload.expiresAt ?? null, email: payload.user?.email ?? email });
    }
  };
  return (
    <main className="login">
      <h1>Sign in to billrun</h1>
      {notice ? <p role="status" className="notice">{notice}</p> : null}
      <form onSubmit={submit} aria-label="Sign in">
        <label htmlFor="email">E-mail</label>
        <input id="email" type="email" autoComplete="username" required value={email}
               onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" autoComplete="current-password" required value={password}
               onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" disabled={result.fetching}>Sign in</button>
      </form>
      <Errors errors={result.data?.login.errors} />
      {result.data?.login.retryAt ? <p>Try again after {result.data.login.retryAt}.</p> : null}
      <RequestError error={result.error} />
    </main>
  );
}
