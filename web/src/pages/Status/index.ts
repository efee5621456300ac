export { StatusPagePanel } from './StatusPagePanel';
