/** Whether `work` settles within `ms`: true once it resolves, false at the deadline (its rejection is passed on). */
export function finishesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      resolve(false);
    }, ms);
  });
  return Promise.race([work.then(() => true), late]).finally(() => {
    clearTimeout(timer);
  });
}
