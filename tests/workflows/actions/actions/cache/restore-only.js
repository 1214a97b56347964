require("./cache.js").restore({ only: true });
