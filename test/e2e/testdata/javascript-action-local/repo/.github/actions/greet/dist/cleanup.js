console.log(`post: saying goodbye to ${process.env.STATE_greeted}`);
