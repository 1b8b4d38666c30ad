import { Inject } from '@nestjs/common';
import { DEFAULT_REGISTRATION_NAME } from '../common/token-refresh.constants';

/** The authenticated HttpService of a registration: `nestjs-token-refresh:http:<name>`. */
export const getTokenRefreshHttpToken = (name: string = DEFAULT_REGISTRATION_NAME): string =>
  `nestjs-token-refresh:http:${name}`;

/** Injects the HttpService that TokenRefreshHttpModule.register({ name }) built for a registration. */
export const InjectTokenRefreshHttp = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(getTokenRefreshHttpToken(name));
