console.log(`post: removing downloads of ${process.env.STATE_installed}`);
