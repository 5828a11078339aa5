// Express 4 is installed under an alias for the compatibility tests; its API is the one @types/express describes.
declare module 'express4' {
  import express from 'express';
  export default express;
}
