export const handler = async () => {
  throw new Error('index-resource handler: built on branch index-runtime');
};
