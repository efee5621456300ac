export default function CanvasPage() {
  return <p>Canvas</p>;
}
