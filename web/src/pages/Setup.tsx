export default function SetupPage() {
  return (
    <section className="page">
      <h1>Setup</h1>
    </section>
  );
}
