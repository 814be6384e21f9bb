export { tempDir, removeOnExit, removeTempDir } from "./temp-dir";
