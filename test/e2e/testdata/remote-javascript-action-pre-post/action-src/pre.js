console.log(`pre: checking the download mirror for ${process.env.INPUT_VERSION}`);
