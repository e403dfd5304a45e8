/// The OpenAPI 3.1 description of the REST API, served at `GET /v1/openapi.json`.
///
/// A test checks that its paths and methods are exactly the routes the server serves.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Particle API",
    "version": "1",
    "description": "REST API of Particle: particles, keys, account. Every error is {\"error\": {\"code\", \"message\"}}."
  },
  "servers": [
    {
      "url": "/"
    }
  ],
  "security": [
    {
      "bearer": []
    }
  ],
  "paths": {
    "/v1/accounts/challenge": {
      "get": {
        "summary": "Issue a challenge to sign for account creation",
        "operationId": "getAccountChallenge",
        "responses": {
          "200": {
            "description": "A challenge",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Challenge"
                }
              }
            }
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "security": []
      }
    },
    "/v1/accounts": {
      "post": {
        "summary": "Create an account for an SSH key, proving possession with an SSHSIG signature",
        "operationId": "createAccount",
        "responses": {
          "201": {
            "description": "Account created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/AccountCreated"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "public_key": {
                    "type": "string"
                  },
                  "challenge": {
                    "type": "string"
                  },
                  "signature": {
                    "type": "string",
                    "description": "Output of `ssh-keygen -Y sign -n particle` over the challenge"
                  }
                },
                "required": [
                  "public_key",
                  "challenge",
                  "signature"
                ]
              }
            }
          }
        },
        "security": []
      }
    },
    "/v1/account": {
      "get": {
        "summary": "Get your account",
        "operationId": "getAccount",
        "responses": {
          "200": {
            "description": "The account",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Account"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/account/rotate-key": {
      "post": {
        "summary": "Rotate your API key",
        "operationId": "rotateKey",
        "responses": {
          "200": {
            "description": "New key",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "api_key": {
                      "type": "string"
                    },
                    "message": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "api_key",
                    "message"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/images": {
      "get": {
        "summary": "List images",
        "operationId": "listImages",
        "responses": {
          "200": {
            "description": "Images",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "images": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Image"
                      }
                    }
                  },
                  "required": [
                    "images"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/particles": {
      "post": {
        "summary": "Create and start a particle",
        "operationId": "createParticle",
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ParticleCreated"
                }
              }
            },
            "links": {
              "getParticle": {
                "operationId": "getParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "deleteParticle": {
                "operationId": "deleteParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "startParticle": {
                "operationId": "startParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "stopParticle": {
                "operationId": "stopParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "sleepParticle": {
                "operationId": "sleepParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "getLogs": {
                "operationId": "getLogs",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "getStatus": {
                "operationId": "getStatus",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "execParticle": {
                "operationId": "execParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "renameParticle": {
                "operationId": "renameParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "setPort": {
                "operationId": "setPort",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "setIdlePolicy": {
                "operationId": "setIdlePolicy",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "setDomain": {
                "operationId": "setDomain",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "removeDomain": {
                "operationId": "removeDomain",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "resizeParticle": {
                "operationId": "resizeParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "rebuildParticle": {
                "operationId": "rebuildParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "duplicateParticle": {
                "operationId": "duplicateParticle",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "createSnapshot": {
                "operationId": "createSnapshot",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "listSnapshots": {
                "operationId": "listSnapshots",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "restoreSnapshot": {
                "operationId": "restoreSnapshot",
                "parameters": {
                  "name": "$response.body#/name"
                }
              },
              "deleteSnapshot": {
                "operationId": "deleteSnapshot",
                "parameters": {
                  "name": "$response.body#/name"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "402": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "name": {
                    "$ref": "#/components/schemas/ParticleName"
                  },
                  "size": {
                    "$ref": "#/components/schemas/Size"
                  },
                  "image": {
                    "type": "string"
                  }
                },
                "required": [
                  "name"
                ]
              }
            }
          }
        }
      },
      "get": {
        "summary": "List particles",
        "operationId": "listParticles",
        "responses": {
          "200": {
            "description": "Particles",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "particles": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/ParticleSummary"
                      }
                    }
                  },
                  "required": [
                    "particles"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/particles/{name}": {
      "get": {
        "summary": "Get a particle",
        "operationId": "getParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      },
      "delete": {
        "summary": "Delete a particle and its disk",
        "operationId": "deleteParticle",
        "responses": {
          "204": {
            "description": "Deleted"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/start": {
      "post": {
        "summary": "Start a stopped particle",
        "operationId": "startParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/stop": {
      "post": {
        "summary": "Stop a running particle",
        "operationId": "stopParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/sleep": {
      "post": {
        "summary": "Put a running particle to sleep (beyond the reference): its memory is saved to disk and its guest stops; the next use or start resumes it with its processes intact",
        "operationId": "sleepParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/logs": {
      "get": {
        "summary": "Read the serial console log",
        "operationId": "getLogs",
        "responses": {
          "200": {
            "description": "Log bytes from the offset",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "logs": {
                      "type": "string"
                    },
                    "offset": {
                      "type": "integer"
                    },
                    "status": {
                      "$ref": "#/components/schemas/Status"
                    }
                  },
                  "required": [
                    "logs",
                    "offset",
                    "status"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          },
          {
            "name": "offset",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/status": {
      "get": {
        "summary": "Get live VM stats",
        "operationId": "getStatus",
        "responses": {
          "200": {
            "description": "Status",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ParticleStatus"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/why-awake": {
      "get": {
        "summary": "What keeps a particle awake (beyond the reference): open SSH sessions, HTTP requests and tunnels, exec commands, the policy, and when it sleeps if nothing changes",
        "operationId": "whyAwake",
        "responses": {
          "200": {
            "description": "The report",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/WakeReport"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/exec": {
      "post": {
        "summary": "Run a command in a running particle",
        "operationId": "execParticle",
        "responses": {
          "200": {
            "description": "Output and exit code",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "exit_code": {
                      "type": "integer"
                    },
                    "output": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "exit_code",
                    "output"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "command": {
                    "type": "string",
                    "minLength": 1
                  }
                },
                "required": [
                  "command"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/particles/{name}/rename": {
      "post": {
        "summary": "Rename a particle",
        "operationId": "renameParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "name": {
                    "$ref": "#/components/schemas/ParticleName"
                  }
                },
                "required": [
                  "name"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/particles/{name}/port": {
      "put": {
        "summary": "Set the default HTTP port",
        "operationId": "setPort",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "http_port": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 65535
                  }
                },
                "required": [
                  "http_port"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/particles/{name}/idle": {
      "put": {
        "summary": "Set the idle policy",
        "operationId": "setIdlePolicy",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "policy": {
                    "type": "string",
                    "enum": [
                      "none",
                      "on",
                      "sleep",
                      "schedule"
                    ]
                  },
                  "timeout_seconds": {
                    "type": "integer",
                    "minimum": 30,
                    "maximum": 86400
                  },
                  "schedule": {
                    "type": "string",
                    "description": "Weekly windows for policy schedule, like 'mon-fri 08:00-19:00 Europe/Berlin'"
                  }
                },
                "required": [
                  "policy"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/particles/{name}/domain": {
      "put": {
        "summary": "Set a custom domain",
        "operationId": "setDomain",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "domain": {
                    "type": "string"
                  }
                },
                "required": [
                  "domain"
                ]
              }
            }
          }
        }
      },
      "delete": {
        "summary": "Remove the custom domain",
        "operationId": "removeDomain",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/resize": {
      "put": {
        "summary": "Resize a stopped particle",
        "operationId": "resizeParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "size": {
                    "$ref": "#/components/schemas/Size"
                  }
                },
                "required": [
                  "size"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/particles/{name}/rebuild": {
      "post": {
        "summary": "Replace a stopped particle's disk with a fresh image",
        "operationId": "rebuildParticle",
        "responses": {
          "200": {
            "description": "The particle",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Particle"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          },
          {
            "name": "image",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/duplicate": {
      "post": {
        "summary": "Copy a stopped particle to a new one",
        "operationId": "duplicateParticle",
        "responses": {
          "201": {
            "description": "The copy",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ParticleCreated"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "name": {
                    "$ref": "#/components/schemas/ParticleName"
                  },
                  "with_memory": {
                    "type": "boolean",
                    "description": "Beyond the reference: copy a sleeping particle's memory too; the copy sleeps and resumes the source's processes under its own identity at its first wake"
                  }
                },
                "required": [
                  "name"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/particles/{name}/snapshots": {
      "post": {
        "summary": "Snapshot a particle's disk",
        "operationId": "createSnapshot",
        "responses": {
          "201": {
            "description": "The snapshot",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/SnapshotCreated"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "403": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "name": {
                    "type": "string"
                  }
                },
                "required": [
                  "name"
                ]
              }
            }
          }
        }
      },
      "get": {
        "summary": "List a particle's snapshots",
        "operationId": "listSnapshots",
        "responses": {
          "200": {
            "description": "Snapshots",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "snapshots": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Snapshot"
                      }
                    }
                  },
                  "required": [
                    "snapshots"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/snapshots/{snapshot}/restore": {
      "post": {
        "summary": "Restore a snapshot to a stopped particle",
        "operationId": "restoreSnapshot",
        "responses": {
          "200": {
            "description": "Restored",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "status": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "status"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          },
          {
            "name": "snapshot",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/particles/{name}/snapshots/{snapshot}": {
      "delete": {
        "summary": "Delete a snapshot",
        "operationId": "deleteSnapshot",
        "responses": {
          "204": {
            "description": "Deleted"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "name",
            "in": "path",
            "required": true,
            "schema": {
              "$ref": "#/components/schemas/ParticleName"
            }
          },
          {
            "name": "snapshot",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/keys": {
      "get": {
        "summary": "List SSH keys",
        "operationId": "listKeys",
        "responses": {
          "200": {
            "description": "Keys",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "keys": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Key"
                      }
                    }
                  },
                  "required": [
                    "keys"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "summary": "Add an SSH key, proving possession with an SSHSIG signature",
        "operationId": "addKey",
        "responses": {
          "201": {
            "description": "Added",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "id": {
                      "type": "string"
                    },
                    "name": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "id",
                    "name"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "public_key": {
                    "type": "string"
                  },
                  "name": {
                    "type": "string"
                  },
                  "challenge": {
                    "type": "string"
                  },
                  "signature": {
                    "type": "string",
                    "description": "Output of `ssh-keygen -Y sign -n particle` over the challenge, by the key being added"
                  }
                },
                "required": [
                  "public_key",
                  "challenge",
                  "signature"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/keys/{id}": {
      "delete": {
        "summary": "Remove an SSH key",
        "operationId": "removeKey",
        "responses": {
          "204": {
            "description": "Removed"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "404": {
            "$ref": "#/components/responses/Error"
          },
          "409": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/account/topup": {
      "post": {
        "summary": "Create a Stripe Checkout link to add funds",
        "operationId": "topUp",
        "responses": {
          "200": {
            "description": "Checkout URL",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "url": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "url"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "amount": {
                    "type": "integer",
                    "minimum": 1000,
                    "maximum": 99999999
                  }
                },
                "required": [
                  "amount"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/account/history": {
      "get": {
        "summary": "List ledger transactions, newest first",
        "operationId": "getHistory",
        "responses": {
          "200": {
            "description": "Transactions",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "transactions": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Transaction"
                      }
                    }
                  },
                  "required": [
                    "transactions"
                  ]
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 1000
            }
          }
        ]
      }
    },
    "/v1/account/usage": {
      "get": {
        "summary": "Usage per particle for a period",
        "operationId": "getUsage",
        "responses": {
          "200": {
            "description": "Usage",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Usage"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "parameters": [
          {
            "name": "period",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "day",
                "week",
                "month",
                "all"
              ]
            }
          }
        ]
      }
    },
    "/v1/account/email": {
      "put": {
        "summary": "Set the recovery email",
        "operationId": "setEmail",
        "responses": {
          "200": {
            "description": "Stored",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "email": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "email"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "401": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "email": {
                    "type": "string"
                  }
                },
                "required": [
                  "email"
                ]
              }
            }
          }
        }
      }
    },
    "/v1/account/recover": {
      "post": {
        "summary": "Email a new API key to the recovery address",
        "operationId": "recoverAccount",
        "responses": {
          "200": {
            "description": "Accepted",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "message": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "message"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          },
          "503": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "properties": {
                  "email": {
                    "type": "string"
                  }
                },
                "required": [
                  "email"
                ]
              }
            }
          }
        },
        "security": []
      }
    },
    "/v1/stripe/webhook": {
      "post": {
        "summary": "Stripe's payment notifications (signed with Stripe-Signature)",
        "operationId": "stripeWebhook",
        "responses": {
          "200": {
            "description": "Received",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "received": {
                      "type": "boolean"
                    },
                    "result": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "received",
                    "result"
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/Error"
          },
          "413": {
            "$ref": "#/components/responses/Error"
          },
          "415": {
            "$ref": "#/components/responses/Error"
          },
          "422": {
            "$ref": "#/components/responses/Error"
          },
          "429": {
            "$ref": "#/components/responses/Error"
          },
          "500": {
            "$ref": "#/components/responses/Error"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object"
              }
            }
          }
        },
        "security": []
      }
    },
    "/v1/cli/version": {
      "get": {
        "summary": "Latest CLI version",
        "operationId": "getCLIVersion",
        "responses": {
          "200": {
            "description": "Version",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "version": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "version"
                  ]
                }
              }
            }
          }
        },
        "security": []
      }
    },
    "/v1/openapi.json": {
      "get": {
        "summary": "This document",
        "operationId": "getOpenAPI",
        "responses": {
          "200": {
            "description": "OpenAPI 3.1 document",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        },
        "security": []
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key rp_k1_..."
      }
    },
    "responses": {
      "Error": {
        "description": "An error",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "properties": {
          "error": {
            "type": "object",
            "properties": {
              "code": {
                "type": "string"
              },
              "message": {
                "type": "string"
              }
            },
            "required": [
              "code",
              "message"
            ]
          }
        },
        "required": [
          "error"
        ]
      },
      "ParticleName": {
        "type": "string",
        "pattern": "^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$",
        "maxLength": 40
      },
      "Size": {
        "type": "string",
        "enum": [
          "p1",
          "p2",
          "p4",
          "p8",
          "p16"
        ]
      },
      "Status": {
        "type": "string",
        "enum": [
          "creating",
          "running",
          "sleeping",
          "stopped",
          "starting",
          "stopping",
          "error"
        ]
      },
      "Challenge": {
        "type": "object",
        "properties": {
          "challenge": {
            "type": "string"
          },
          "namespace": {
            "type": "string"
          },
          "expires_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "challenge",
          "namespace",
          "expires_at"
        ]
      },
      "AccountCreated": {
        "type": "object",
        "properties": {
          "account_id": {
            "type": "string"
          },
          "api_key": {
            "type": "string"
          }
        },
        "required": [
          "account_id",
          "api_key"
        ]
      },
      "Account": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "balance_cents": {
            "type": "integer"
          },
          "recovery_email": {
            "type": [
              "string",
              "null"
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "balance_cents",
          "recovery_email",
          "created_at"
        ]
      },
      "Image": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "display_name": {
            "type": "string"
          },
          "default": {
            "type": "boolean"
          },
          "available": {
            "type": "boolean"
          },
          "reason": {
            "type": "string"
          }
        },
        "required": [
          "id",
          "name",
          "display_name",
          "default"
        ]
      },
      "ParticleCreated": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "size": {
            "$ref": "#/components/schemas/Size"
          },
          "status": {
            "$ref": "#/components/schemas/Status"
          },
          "http_port": {
            "type": "integer"
          },
          "image": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "name",
          "size",
          "status",
          "http_port",
          "image",
          "created_at"
        ]
      },
      "ParticleSummary": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "size": {
            "$ref": "#/components/schemas/Size"
          },
          "status": {
            "$ref": "#/components/schemas/Status"
          },
          "idle_policy": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "name",
          "size",
          "status",
          "idle_policy",
          "created_at"
        ]
      },
      "Particle": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "size": {
            "$ref": "#/components/schemas/Size"
          },
          "status": {
            "$ref": "#/components/schemas/Status"
          },
          "http_port": {
            "type": "integer"
          },
          "image": {
            "type": "string"
          },
          "custom_domain": {
            "type": "string"
          },
          "idle_policy": {
            "type": "string"
          },
          "idle_timeout_seconds": {
            "type": "integer"
          },
          "idle_schedule": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "stopped_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "name",
          "size",
          "status",
          "http_port",
          "image",
          "idle_policy",
          "created_at"
        ]
      },
      "ParticleStatus": {
        "allOf": [
          {
            "$ref": "#/components/schemas/Particle"
          },
          {
            "type": "object",
            "properties": {
              "vm_stats": {
                "type": "object",
                "properties": {
                  "vcpus": {
                    "type": "integer"
                  },
                  "memory_total_bytes": {
                    "type": "integer"
                  },
                  "disk_total_bytes": {
                    "type": "integer"
                  },
                  "uptime_seconds": {
                    "type": "integer"
                  },
                  "vm_state": {
                    "type": "string"
                  }
                },
                "required": [
                  "vcpus",
                  "memory_total_bytes",
                  "disk_total_bytes",
                  "uptime_seconds",
                  "vm_state"
                ]
              },
              "network_peers": {
                "type": "integer"
              },
              "last_activity_at": {
                "type": [
                  "string",
                  "null"
                ],
                "format": "date-time"
              },
              "wake_at": {
                "type": [
                  "string",
                  "null"
                ],
                "format": "date-time",
                "description": "When the platform wakes or starts the particle by itself next: a sleeping particle's guest timer, or the next window of a schedule policy. Null when nothing will, and while it runs."
              },
              "healthy": {
                "type": "boolean",
                "description": "True while the guest runs and its QEMU responds to queries; false in every other status, where no guest runs to check."
              }
            },
            "required": [
              "vm_stats",
              "network_peers",
              "wake_at",
              "healthy"
            ]
          }
        ]
      },
      "SnapshotCreated": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "particle_id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "size_bytes": {
            "type": "integer"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "particle_id",
          "name",
          "size_bytes",
          "created_at"
        ]
      },
      "Snapshot": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "size_bytes": {
            "type": "integer"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "name",
          "size_bytes",
          "created_at"
        ]
      },
      "Transaction": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "amount_cents": {
            "type": "integer"
          },
          "type": {
            "type": "string",
            "enum": [
              "topup",
              "usage",
              "grant"
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "amount_cents",
          "type",
          "created_at"
        ]
      },
      "Usage": {
        "type": "object",
        "properties": {
          "period": {
            "type": "string"
          },
          "start": {
            "type": "string",
            "format": "date-time"
          },
          "end": {
            "type": "string",
            "format": "date-time"
          },
          "total_cents": {
            "type": "integer"
          },
          "particles": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "particle_id": {
                  "type": "string"
                },
                "name": {
                  "type": "string"
                },
                "size": {
                  "type": "string"
                },
                "status": {
                  "type": "string"
                },
                "compute_hours": {
                  "type": "number"
                },
                "total_cents": {
                  "type": "integer"
                }
              },
              "required": [
                "particle_id",
                "name",
                "size",
                "status",
                "compute_hours",
                "total_cents"
              ]
            }
          }
        },
        "required": [
          "period",
          "start",
          "end",
          "total_cents",
          "particles"
        ]
      },
      "Key": {
        "type": "object",
        "properties": {
          "id": {
            "type": "string"
          },
          "public_key": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "fingerprint": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        },
        "required": [
          "id",
          "public_key",
          "name",
          "created_at"
        ]
      },
      "WakeReport": {
        "type": "object",
        "required": [
          "name",
          "status",
          "idle_policy",
          "idle_timeout_seconds",
          "summary",
          "activities",
          "last_activity_at",
          "sleeps_at",
          "wake_at",
          "wake_reason"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "status": {
            "type": "string",
            "enum": [
              "creating",
              "running",
              "sleeping",
              "stopped",
              "starting",
              "stopping",
              "error"
            ]
          },
          "idle_policy": {
            "type": "string",
            "enum": [
              "none",
              "on",
              "sleep",
              "schedule"
            ]
          },
          "idle_timeout_seconds": {
            "type": "integer"
          },
          "summary": {
            "type": "string"
          },
          "activities": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "kind",
                "detail",
                "since",
                "seconds"
              ],
              "properties": {
                "kind": {
                  "type": "string",
                  "enum": [
                    "http",
                    "exec",
                    "ssh"
                  ]
                },
                "detail": {
                  "type": "string"
                },
                "since": {
                  "type": "string",
                  "format": "date-time"
                },
                "seconds": {
                  "type": "integer"
                }
              }
            }
          },
          "last_activity_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "sleeps_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "wake_at": {
            "description": "While it sleeps: when a systemd timer or cron job in its guest wakes it",
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "wake_reason": {
            "description": "The timer or job due at wake_at, like 'cron job /var/spool/cron/crontabs/root:1'",
            "type": [
              "string",
              "null"
            ]
          }
        }
      }
    }
  }
}
"""#
}
