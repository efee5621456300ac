export { ArtifactsPanel } from './ArtifactsPanel';
