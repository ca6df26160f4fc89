// The notice and error lines of the sign-in, password-reset and MFA forms: a status for what happened,
// an alert for what went wrong (read out by screen readers as it appears).

export function FormMessages({
  notice,
  error,
  noticeTestId,
  errorTestId,
}: {
  notice: string | null;
  error: string | null;
  noticeTestId?: string;
  errorTestId?: string;
}) {
  return (
    <>
      {notice !== null && (
        <p className="auth-notice" role="status" data-testid={noticeTestId}>
          {notice}
        </p>
      )}
      {error !== null && (
        <p className="auth-error" role="alert" data-testid={errorTestId}>
          {error}
        </p>
      )}
    </>
  );
}
