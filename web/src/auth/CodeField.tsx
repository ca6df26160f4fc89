// The 6-digit authenticator code field, the same at sign-in and in the MFA settings: numeric keypad on
// phones and one-time-code autofill.

export function CodeField({
  value,
  onChange,
  testId,
  autoFocus = false,
}: {
  value: string;
  onChange: (value: string) => void;
  testId: string;
  autoFocus?: boolean;
}) {
  return (
    <label className="auth-field">
      Code from the app
      <input
        type="text"
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="[0-9]{6}"
        maxLength={6}
        required
        autoFocus={autoFocus}
        value={value}
        data-testid={testId}
        onChange={(event) => onChange(event.target.value)}
      />
    </label>
  );
}
