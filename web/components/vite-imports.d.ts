/** Vite's `?inline` CSS imports: the stylesheet's text (the app's tsconfig does not load vite/client's types). */
declare module '*.css?inline' {
  const css: string;
  export default css;
}
