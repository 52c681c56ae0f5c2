window.YTD.tweets.part0 = [
  {
    "tweet" : {
      "id_str" : "1896000000000000001",
      "full_text" : "Coffee &amp; sunshine, a perfect start to the weekend.",
      "created_at" : "Sat Mar 01 08:00:00 +0000 2025",
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "id_str" : "1896000000000000002",
      "full_text" : "Why does everything go wrong at once? So tired of this.",
      "created_at" : "Sun Mar 02 23:15:00 +0000 2025",
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "id_str" : "1896000000000000003",
      "full_text" : "Grateful for friends who show up when it matters.",
      "created_at" : "Tue Mar 04 19:00:00 +0000 2025",
      "lang" : "en"
    }
  }
]
