export default function EventsPage() {
  return (
    <section className="page">
      <h1>Events</h1>
    </section>
  );
}
