export default function KioskPage() {
  return (
    <section className="page">
      <h1>Kiosk</h1>
    </section>
  );
}
