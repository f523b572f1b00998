//! An unnamed policy belongs to the concrete type it runs for, whichever instantiation runs
//! first: generic impls and trait default methods get one policy per concrete `Self`, named with
//! that type; associated functions are `module::Type::fn`; nested functions of one name in one
//! module are told apart by their enclosing function. An explicit `name` still shares by name.

mod common;

use common::AppError;
use resilience::{circuit_breaker, registry, CircuitState, PolicyKind};

/// Whether a breaker of exactly this name is registered.
fn breaker_names() -> Vec<String> {
    registry()
        .policies()
        .into_iter()
        .filter(|p| p.kind() == PolicyKind::CircuitBreaker)
        .map(|p| p.name().to_owned())
        .collect()
}

fn state_of(name: &str) -> CircuitState {
    registry()
        .circuit_breaker(name)
        .unwrap_or_else(|| panic!("no breaker named {name}; registered: {:?}", breaker_names()))
        .state()
}

mod generic {
    use super::AppError;
    use resilience::circuit_breaker;

    pub struct Http;
    pub struct Grpc;

    pub struct Client<T> {
        pub transport: T,
        pub fail: bool,
    }

    impl<T> Client<T> {
        #[circuit_breaker(failure_threshold = 1)]
        pub async fn get(&self) -> Result<u32, AppError> {
            if self.fail {
                Err(AppError::Down("get"))
            } else {
                Ok(1)
            }
        }
    }
}

#[tokio::test]
async fn a_generic_impl_has_one_breaker_per_concrete_type() {
    use generic::{Client, Grpc, Http};
    let http = Client {
        transport: Http,
        fail: true,
    };
    let grpc = Client {
        transport: Grpc,
        fail: false,
    };
    let _ = (&http.transport, &grpc.transport);

    // The failing instantiation runs first and opens its own breaker only.
    assert!(http.get().await.is_err());
    assert_eq!(
        grpc.get().await,
        Ok(1),
        "Client<Grpc> was rejected by Client<Http>'s breaker"
    );
    assert_eq!(grpc.get().await, Ok(1));

    let http_name = "policy_identity::generic::Client<policy_identity::generic::Http>::get";
    let grpc_name = "policy_identity::generic::Client<policy_identity::generic::Grpc>::get";
    assert_eq!(state_of(http_name), CircuitState::Open);
    assert_eq!(state_of(grpc_name), CircuitState::Closed);
    let http_breaker = registry().circuit_breaker(http_name).unwrap();
    assert_eq!(http_breaker.stats().failures, 1);
    assert_eq!(
        registry()
            .circuit_breaker(grpc_name)
            .unwrap()
            .stats()
            .successes,
        2
    );

    // Calls alternating between the instantiations keep going to their own breakers.
    for _ in 0..3 {
        assert!(matches!(http.get().await, Err(AppError::Policy(_))));
        assert_eq!(grpc.get().await, Ok(1));
    }
    assert_eq!(
        registry()
            .circuit_breaker(grpc_name)
            .unwrap()
            .stats()
            .successes,
        5
    );
}

mod defaults {
    use super::AppError;
    use resilience::circuit_breaker;

    pub trait Api {
        fn healthy(&self) -> bool;

        #[circuit_breaker(failure_threshold = 1)]
        async fn ping(&self) -> Result<(), AppError> {
            if self.healthy() {
                Ok(())
            } else {
                Err(AppError::Down("ping"))
            }
        }
    }

    pub struct Broken;
    pub struct Working;

    impl Api for Broken {
        fn healthy(&self) -> bool {
            false
        }
    }

    impl Api for Working {
        fn healthy(&self) -> bool {
            true
        }
    }
}

#[tokio::test]
async fn a_trait_default_method_has_one_breaker_per_implementor() {
    use defaults::{Api, Broken, Working};
    assert!(Broken.ping().await.is_err());
    assert_eq!(Working.ping().await, Ok(()));
    assert_eq!(
        state_of("policy_identity::defaults::Broken::ping"),
        CircuitState::Open
    );
    assert_eq!(
        state_of("policy_identity::defaults::Working::ping"),
        CircuitState::Closed
    );
}

mod associated {
    use super::AppError;
    use resilience::circuit_breaker;

    pub struct Orders;
    pub struct Users;

    impl Orders {
        #[circuit_breaker(failure_threshold = 1)]
        pub async fn fetch() -> Result<&'static str, AppError> {
            Err(AppError::Down("orders"))
        }
    }

    impl Users {
        #[circuit_breaker(failure_threshold = 3)]
        pub async fn fetch() -> Result<&'static str, AppError> {
            Ok("users")
        }
    }
}

#[tokio::test]
async fn associated_functions_without_a_receiver_are_named_by_their_type() {
    use associated::{Orders, Users};
    assert!(Orders::fetch().await.is_err());
    assert_eq!(Users::fetch().await, Ok("users"));
    assert_eq!(
        state_of("policy_identity::associated::Orders::fetch"),
        CircuitState::Open
    );
    assert_eq!(
        state_of("policy_identity::associated::Users::fetch"),
        CircuitState::Closed
    );
    // Two sites, two names: no conflict between their different settings.
    let conflicts: Vec<_> = registry()
        .policies()
        .into_iter()
        .filter(|p| p.name().contains("associated") && !p.conflicts().is_empty())
        .collect();
    assert!(conflicts.is_empty(), "{conflicts:?}");
}

mod nested {
    use super::AppError;
    use resilience::circuit_breaker;

    pub async fn orders() -> Result<u32, AppError> {
        #[circuit_breaker(failure_threshold = 1)]
        async fn load() -> Result<u32, AppError> {
            Err(AppError::Down("orders"))
        }
        load().await
    }

    pub async fn users() -> Result<u32, AppError> {
        #[circuit_breaker(failure_threshold = 1)]
        async fn load() -> Result<u32, AppError> {
            Ok(7)
        }
        load().await
    }
}

#[tokio::test]
async fn nested_functions_of_one_name_are_told_apart_by_their_enclosing_function() {
    assert!(nested::orders().await.is_err());
    assert_eq!(nested::users().await, Ok(7));
    assert_eq!(
        state_of("policy_identity::nested::orders::load"),
        CircuitState::Open
    );
    assert_eq!(
        state_of("policy_identity::nested::users::load"),
        CircuitState::Closed
    );
}

mod shared {
    use super::AppError;
    use resilience::circuit_breaker;

    pub struct A;
    pub struct B;

    pub struct Client<T>(pub T);

    impl<T> Client<T> {
        #[circuit_breaker(name = "identity-shared", failure_threshold = 1)]
        pub async fn call(&self, fail: bool) -> Result<(), AppError> {
            if fail {
                Err(AppError::Down("shared"))
            } else {
                Ok(())
            }
        }
    }
}

#[tokio::test]
async fn an_explicit_name_still_shares_one_breaker() {
    use shared::{Client, A, B};
    let (a, b) = (Client(A), Client(B));
    let _ = (&a.0, &b.0);
    assert!(a.call(true).await.is_err());
    assert!(
        matches!(b.call(false).await, Err(AppError::Policy(_))),
        "Client<B> must share Client<A>'s named breaker"
    );
    assert_eq!(state_of("identity-shared"), CircuitState::Open);
}

#[circuit_breaker]
async fn free_function() -> Result<(), AppError> {
    Ok(())
}

#[tokio::test]
async fn a_free_function_is_named_by_its_module() {
    free_function().await.unwrap();
    assert_eq!(
        state_of("policy_identity::free_function"),
        CircuitState::Closed
    );
}
