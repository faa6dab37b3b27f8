/** A text field of a submitted form ('' when absent, or when the field is a file). */
export function formText(data: FormData, name: string): string {
  const value = data.get(name);
  return typeof value === 'string' ? value : '';
}
