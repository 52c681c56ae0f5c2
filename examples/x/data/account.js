window.YTD.account.part0 = [
  {
    "account" : {
      "email" : "owner@example.org",
      "createdVia" : "web",
      "username" : "sparrow_example",
      "accountId" : "1000000001",
      "createdAt" : "2019-01-01T00:00:00.000Z",
      "accountDisplayName" : "Sparrow"
    }
  }
]
